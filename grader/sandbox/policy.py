"""The system calls a worker may make, as data: each call, its argument filter and why it is there.

Everything else is refused with EPERM (``clone3`` with ENOSYS, so glibc falls
back to ``clone``, whose flags a filter can read). The set was measured, not
guessed: ``strace -f`` of the zygote while grading the bundled assignment's
sample class, ``examples/losses`` and the test suite's classes and hostile
cases, keeping every call made after the filter went in (the first group
below, in the order of how often they were made), plus what CPython, glibc and
torch make for features ordinary student code uses (threads, timers, sleeping,
temporary files in scratch), each with its reason. ``isolation`` only
assembles this into a BPF program and installs it.

Left out on purpose, so refused: every call that changes a file's metadata
(``chmod``, ``chown``, ``utime``, ``setxattr`` and their variants: Landlock
cannot stop them, and for a grader run as an ordinary user they would reach
that user's own files), new sockets, new processes and programs, mounts,
namespaces, the host name and clock, tracing, other processes' memory,
keyrings, BPF, modules, device nodes, and scheduling or limits of any process
but the worker itself.

Argument tests look at the low 32 bits of an argument, which is all the
kernel reads of each one tested here (pids, ``int`` flags and commands).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["RULES", "SELF", "SELF_GROUP", "SYSCALLS", "ZERO", "Arg", "Rule"]

#: Placeholders in ``Arg.any_of``, resolved when the filter is assembled in the worker.
SELF: Final = "self"  # the worker's pid
SELF_GROUP: Final = "-self"  # minus the worker's pid: its process group, when it leads one (it does: setsid)
ZERO: Final = "zero-when-leader"  # 0 as "my process group": only when the worker leads its group
Value = int | Literal["self", "-self", "zero-when-leader"]


@dataclass(frozen=True)
class Arg:
    """A test on the low 32 bits of argument ``index``: all given parts must hold."""

    index: int
    #: The argument equals one of these.
    any_of: tuple[Value, ...] = ()
    #: None of these bits is set.
    none_of: int = 0
    #: All of these bits are set.
    all_of: int = 0


@dataclass(frozen=True)
class Rule:
    """One allowed system call: allowed when every ``Arg`` test holds, else EPERM."""

    name: str
    why: str
    args: tuple[Arg, ...] = ()
    #: Not allowed but answered with this errno instead of EPERM.
    errno: Literal["ENOSYS"] | None = None


_PID_OR_SELF = Arg(0, any_of=(0, SELF))
_PRIO_PROCESS = 0
_CLONE_THREAD = 0x00010000
#: CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET.
_CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
#: TCGETS (isatty, on every open), FIONREAD, FIONBIO, FIOCLEX, FIONCLEX (os.set_inheritable), TIOCGWINSZ
#: (shutil.get_terminal_size); the same numbers on x86_64 and aarch64.
_IOCTLS = (0x5401, 0x541B, 0x5421, 0x5451, 0x5450, 0x5413)
#: fcntl commands on the worker's own descriptors; not F_SETOWN(_EX) or F_SETSIG (SIGIO to another
#: process), F_SETLEASE or F_NOTIFY (signals driven by other processes' file activity).
_FCNTLS = (0, 1, 2, 3, 4, 5, 6, 7, 36, 37, 38, 1030, 1032, 1033, 1034)
#: PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_NAME, PR_GET_NAME, PR_CAPBSET_READ, PR_GET_SECUREBITS,
#: PR_GET_NO_NEW_PRIVS, PR_SET_VMA (glibc names its anonymous mappings). Not PR_SET_DUMPABLE (it would
#: open the worker's /proc files to its uid), PR_SET_MM, PR_SET_PTRACER, PR_CAP_AMBIENT and the like.
_PRCTLS = (2, 3, 15, 16, 23, 27, 39, 0x53564D41)

RULES: Final[tuple[Rule, ...]] = (
    # -- measured in every worker (strace -f of real grading), most frequent first --------------
    Rule("newfstatat", "import: CPython stats every sys.path candidate"),
    Rule("read", "reading files and the request channel"),
    Rule("lseek", "reading source files and .pyc caches"),
    Rule("mmap", "memory for tensors and the allocator; shared libraries torch loads lazily"),
    Rule("munmap", "freeing that memory"),
    Rule("openat", "opening files: Landlock decides which"),
    Rule("close", "closing them"),
    Rule("ioctl", "isatty (TCGETS) on every open and the other requests Python makes", (Arg(1, any_of=_IOCTLS),)),
    Rule("recvfrom", "the request channel (socket.recv)"),
    Rule("sendto", "the answer channel (socket.sendall)"),
    Rule("getdents64", "import: listing package folders"),
    Rule("write", "printed output, files in scratch"),
    Rule("mkdir", "the submission's folders in scratch (x86_64)"),
    Rule("mkdirat", "the submission's folders in scratch"),
    Rule("futex", "locks and condition variables (GIL, threads, torch)"),
    Rule("getpid", "os.getpid; glibc and torch ask"),
    Rule("brk", "the C heap"),
    Rule("madvise", "the allocator's huge pages and freed ranges (own memory only)"),
    Rule("mprotect", "guard pages and relocations of lazily loaded libraries"),
    Rule("getrandom", "random, secrets, hash seeds"),
    Rule("prctl", "reading own process attributes; naming threads", (Arg(0, any_of=_PRCTLS),)),
    Rule("getcwd", "os.getcwd, pathlib.Path.cwd"),
    Rule("rt_sigprocmask", "signal masks (threads, signal module)"),
    Rule("sched_getaffinity", "torch and os.cpu_count ask which CPUs they have: own process only", (_PID_OR_SELF,)),
    Rule("getuid", "os.getuid, getpass, pathlib.Path.home"),
    Rule("unlink", "deleting files in scratch (x86_64)"),
    Rule("unlinkat", "deleting files in scratch"),
    Rule("readlinkat", "os.readlink, pathlib.resolve"),
    Rule("readlink", "os.readlink, pathlib.resolve (x86_64)"),
    # -- threads and the C runtime ------------------------------------------------------------------
    Rule(
        "clone",
        "threads only: CLONE_THREAD set and no namespace flag (no fork, no new namespace)",
        (Arg(0, all_of=_CLONE_THREAD, none_of=_CLONE_NAMESPACES),),
    ),
    Rule("clone3", "its flags sit in memory a filter cannot read: ENOSYS makes glibc use clone", errno="ENOSYS"),
    Rule("set_robust_list", "glibc, in every new thread"),
    Rule("rseq", "glibc, in every new thread"),
    Rule("set_tid_address", "glibc, in every new thread"),
    Rule("gettid", "threading.get_native_id, logging"),
    Rule("sched_yield", "spin locks (torch, OpenMP)"),
    Rule("exit", "a thread ends"),
    Rule("exit_group", "the worker ends"),
    Rule("restart_syscall", "the kernel restarts an interrupted sleep"),
    Rule("mremap", "realloc of large blocks"),
    Rule("msync", "flushing a memory-mapped file in scratch (numpy.memmap)"),
    # -- signals, to itself only --------------------------------------------------------------------
    Rule("rt_sigaction", "signal.signal, faulthandler"),
    Rule("rt_sigreturn", "returning from a signal handler"),
    Rule("rt_sigpending", "signal.sigpending"),
    Rule("rt_sigsuspend", "signal.pause"),
    Rule("rt_sigtimedwait", "signal.sigtimedwait"),
    Rule("sigaltstack", "faulthandler and thread stacks"),
    Rule("kill", "os.kill of itself or its own group only", (Arg(0, any_of=(SELF, SELF_GROUP, ZERO)),)),
    Rule("tgkill", "signals to its own threads (pthread_kill, os.abort)", (Arg(0, any_of=(SELF,)),)),
    Rule("rt_sigqueueinfo", "signals with data, to itself only", (Arg(0, any_of=(SELF,)),)),
    Rule("rt_tgsigqueueinfo", "signals with data, to its own threads only", (Arg(0, any_of=(SELF,)),)),
    Rule("alarm", "signal.alarm (x86_64): ends only the worker"),
    Rule("setitimer", "signal.setitimer: ends only the worker"),
    Rule("getitimer", "signal.getitimer"),
    Rule("timer_create", "POSIX timers of its own process"),
    Rule("timer_settime", "POSIX timers of its own process"),
    Rule("timer_gettime", "POSIX timers of its own process"),
    Rule("timer_getoverrun", "POSIX timers of its own process"),
    Rule("timer_delete", "POSIX timers of its own process"),
    Rule("pause", "signal.pause (x86_64)"),
    # -- time ---------------------------------------------------------------------------------------
    Rule("clock_gettime", "time.time and friends when the vDSO is not used"),
    Rule("clock_getres", "time.get_clock_info"),
    Rule("gettimeofday", "time (x86_64 without the vDSO)"),
    Rule("time", "time (x86_64 without the vDSO)"),
    Rule("clock_nanosleep", "time.sleep"),
    Rule("nanosleep", "time.sleep in older C libraries"),
    # -- descriptors the worker already holds or opened through Landlock ------------------------------
    Rule("fstat", "every open file"),
    Rule("statx", "os.stat on newer C libraries"),
    Rule("stat", "os.stat (x86_64)"),
    Rule("lstat", "os.lstat (x86_64)"),
    Rule("fstatfs", "os.fstatvfs, torch's shared memory checks"),
    Rule("statfs", "os.statvfs, shutil.disk_usage"),
    Rule("readv", "buffered reads"),
    Rule("writev", "buffered writes"),
    Rule("pread64", "os.pread; the worker reads its captured output"),
    Rule("pwrite64", "os.pwrite"),
    Rule("preadv", "os.preadv"),
    Rule("pwritev", "os.pwritev"),
    Rule("preadv2", "os.preadv"),
    Rule("pwritev2", "os.pwritev"),
    Rule("close_range", "os.closerange"),
    Rule("dup", "os.dup"),
    Rule("dup2", "os.dup2 (x86_64)"),
    Rule("dup3", "os.dup2"),
    Rule("fcntl", "descriptor flags and locks on its own files", (Arg(1, any_of=_FCNTLS),)),
    Rule("flock", "fcntl.flock on its own files"),
    Rule("ftruncate", "file.truncate; the worker clears its captured output"),
    Rule("truncate", "os.truncate of a file in scratch"),
    Rule("fallocate", "os.posix_fallocate in scratch"),
    Rule("fadvise64", "os.posix_fadvise"),
    Rule("fsync", "os.fsync"),
    Rule("fdatasync", "os.fdatasync"),
    Rule("sendfile", "shutil.copyfile in scratch"),
    Rule("copy_file_range", "shutil.copyfile in scratch"),
    Rule("pipe", "os.pipe (x86_64)"),
    Rule("pipe2", "os.pipe, concurrent.futures"),
    Rule("eventfd2", "wake-ups between threads"),
    Rule("poll", "select.poll (x86_64)"),
    Rule("ppoll", "select.poll"),
    Rule("select", "select.select (x86_64)"),
    Rule("pselect6", "select.select"),
    Rule("epoll_create1", "selectors, asyncio"),
    Rule("epoll_ctl", "selectors, asyncio"),
    Rule("epoll_wait", "selectors, asyncio (x86_64)"),
    Rule("epoll_pwait", "selectors, asyncio"),
    Rule("epoll_pwait2", "selectors, asyncio"),
    Rule("recvmsg", "the channel it already holds (it can open no other)"),
    Rule("sendmsg", "the channel it already holds (it can open no other)"),
    Rule("shutdown", "the channel it already holds"),
    Rule("getsockopt", "the channel it already holds"),
    Rule("getsockname", "the channel it already holds"),
    Rule("getpeername", "the channel it already holds"),
    # -- paths: Landlock confines them to scratch (writes) and the granted trees (reads) --------------
    Rule("open", "open (x86_64)"),
    Rule("access", "os.access (x86_64)"),
    Rule("faccessat", "os.access"),
    Rule("faccessat2", "os.access"),
    Rule("getdents", "os.listdir (x86_64, older C libraries)"),
    Rule("chdir", "os.chdir"),
    Rule("fchdir", "os.chdir to a descriptor"),
    Rule("rmdir", "os.rmdir in scratch (x86_64)"),
    Rule("rename", "os.rename in scratch (x86_64)"),
    Rule("renameat", "os.rename in scratch"),
    Rule("renameat2", "os.rename in scratch"),
    Rule("link", "os.link in scratch (x86_64)"),
    Rule("linkat", "os.link in scratch"),
    Rule("symlink", "os.symlink in scratch (x86_64)"),
    Rule("symlinkat", "os.symlink in scratch"),
    Rule("umask", "os.umask, tempfile: its own mask"),
    Rule("getxattr", "reading extended attributes (shutil.copystat); setting them is refused"),
    Rule("lgetxattr", "reading extended attributes"),
    Rule("fgetxattr", "reading extended attributes"),
    Rule("listxattr", "reading extended attributes"),
    Rule("llistxattr", "reading extended attributes"),
    Rule("flistxattr", "reading extended attributes"),
    # -- about itself -------------------------------------------------------------------------------
    Rule("getppid", "os.getppid"),
    Rule("geteuid", "os.geteuid"),
    Rule("getgid", "os.getgid"),
    Rule("getegid", "os.getegid"),
    Rule("getresuid", "os.getresuid"),
    Rule("getresgid", "os.getresgid"),
    Rule("getgroups", "os.getgroups"),
    Rule("getpgrp", "os.getpgrp (x86_64)"),
    Rule("getpgid", "os.getpgid"),
    Rule("getsid", "os.getsid"),
    Rule("capget", "reading its (empty) capability sets"),
    Rule("uname", "platform, os.uname"),
    Rule("sysinfo", "torch and psutil-like memory queries"),
    Rule("getrusage", "resource.getrusage"),
    Rule("times", "os.times"),
    Rule("getcpu", "sched_getcpu"),
    Rule(
        "prlimit64",
        "resource.getrlimit/setrlimit of its own process only; raising a hard limit needs a capability it lacks",
        (_PID_OR_SELF,),
    ),
    Rule("getrlimit", "resource.getrlimit (x86_64)"),
    Rule("setrlimit", "resource.setrlimit (x86_64): always its own process, lowering only without privilege"),
    Rule(
        "getpriority",
        "os.getpriority of its own process only",
        (Arg(0, any_of=(_PRIO_PROCESS,)), Arg(1, any_of=(0, SELF))),
    ),
    Rule(
        "setpriority",
        "os.nice and os.setpriority of its own process only; raising it needs a capability it lacks",
        (Arg(0, any_of=(_PRIO_PROCESS,)), Arg(1, any_of=(0, SELF))),
    ),
    Rule("sched_setaffinity", "os.sched_setaffinity of its own process only", (_PID_OR_SELF,)),
    Rule("sched_getparam", "scheduling of its own process only", (_PID_OR_SELF,)),
    Rule("sched_getscheduler", "scheduling of its own process only", (_PID_OR_SELF,)),
    Rule("sched_getattr", "scheduling of its own process only", (_PID_OR_SELF,)),
    Rule("sched_get_priority_max", "os.sched_get_priority_max"),
    Rule("sched_get_priority_min", "os.sched_get_priority_min"),
)

#: System call numbers, from the kernel's unistd headers. aarch64 has no legacy calls (open, stat, fork...).
SYSCALLS: Final[dict[str, dict[str, int]]] = {
    "x86_64": {
        "newfstatat": 262, "read": 0, "lseek": 8, "mmap": 9, "munmap": 11, "openat": 257, "close": 3, "ioctl": 16,
        "recvfrom": 45, "sendto": 44, "getdents64": 217, "write": 1, "mkdir": 83, "mkdirat": 258, "futex": 202,
        "getpid": 39, "brk": 12, "madvise": 28, "mprotect": 10, "getrandom": 318, "prctl": 157, "getcwd": 79,
        "rt_sigprocmask": 14, "sched_getaffinity": 204, "getuid": 102, "unlink": 87, "unlinkat": 263,
        "readlinkat": 267, "readlink": 89, "clone": 56, "clone3": 435, "set_robust_list": 273, "rseq": 334,
        "set_tid_address": 218, "gettid": 186, "sched_yield": 24, "exit": 60, "exit_group": 231,
        "restart_syscall": 219, "mremap": 25, "msync": 26, "rt_sigaction": 13, "rt_sigreturn": 15,
        "rt_sigpending": 127, "rt_sigsuspend": 130, "rt_sigtimedwait": 128, "sigaltstack": 131, "kill": 62,
        "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297, "alarm": 37, "setitimer": 38,
        "getitimer": 36, "timer_create": 222, "timer_settime": 223, "timer_gettime": 224, "timer_getoverrun": 225,
        "timer_delete": 226, "pause": 34, "clock_gettime": 228, "clock_getres": 229, "gettimeofday": 96,
        "time": 201, "clock_nanosleep": 230, "nanosleep": 35, "fstat": 5, "statx": 332, "stat": 4, "lstat": 6,
        "fstatfs": 138, "statfs": 137, "readv": 19, "writev": 20, "pread64": 17, "pwrite64": 18, "preadv": 295,
        "pwritev": 296, "preadv2": 327, "pwritev2": 328, "close_range": 436, "dup": 32, "dup2": 33, "dup3": 292,
        "fcntl": 72, "flock": 73, "ftruncate": 77, "truncate": 76, "fallocate": 285, "fadvise64": 221, "fsync": 74,
        "fdatasync": 75, "sendfile": 40, "copy_file_range": 326, "pipe": 22, "pipe2": 293, "eventfd2": 290,
        "poll": 7, "ppoll": 271, "select": 23, "pselect6": 270, "epoll_create1": 291, "epoll_ctl": 233,
        "epoll_wait": 232, "epoll_pwait": 281, "epoll_pwait2": 441, "recvmsg": 47, "sendmsg": 46, "shutdown": 48,
        "getsockopt": 55, "getsockname": 51, "getpeername": 52, "open": 2, "access": 21, "faccessat": 269,
        "faccessat2": 439, "getdents": 78, "chdir": 80, "fchdir": 81, "rmdir": 84, "rename": 82, "renameat": 264,
        "renameat2": 316, "link": 86, "linkat": 265, "symlink": 88, "symlinkat": 266, "umask": 95, "getxattr": 191,
        "lgetxattr": 192, "fgetxattr": 193, "listxattr": 194, "llistxattr": 195, "flistxattr": 196, "getppid": 110,
        "geteuid": 107, "getgid": 104, "getegid": 108, "getresuid": 118, "getresgid": 120, "getgroups": 115,
        "getpgrp": 111, "getpgid": 121, "getsid": 124, "capget": 125, "uname": 63, "sysinfo": 99, "getrusage": 98,
        "times": 100, "getcpu": 309, "prlimit64": 302, "getrlimit": 97, "setrlimit": 160, "getpriority": 140,
        "setpriority": 141, "sched_setaffinity": 203, "sched_getparam": 143, "sched_getscheduler": 145,
        "sched_getattr": 315, "sched_get_priority_max": 146, "sched_get_priority_min": 147,
    },
    "aarch64": {
        "newfstatat": 79, "read": 63, "lseek": 62, "mmap": 222, "munmap": 215, "openat": 56, "close": 57,
        "ioctl": 29, "recvfrom": 207, "sendto": 206, "getdents64": 61, "write": 64, "mkdirat": 34, "futex": 98,
        "getpid": 172, "brk": 214, "madvise": 233, "mprotect": 226, "getrandom": 278, "prctl": 167, "getcwd": 17,
        "rt_sigprocmask": 135, "sched_getaffinity": 123, "getuid": 174, "unlinkat": 35, "readlinkat": 78,
        "clone": 220, "clone3": 435, "set_robust_list": 99, "rseq": 293, "set_tid_address": 96, "gettid": 178,
        "sched_yield": 124, "exit": 93, "exit_group": 94, "restart_syscall": 128, "mremap": 216, "msync": 227,
        "rt_sigaction": 134, "rt_sigreturn": 139, "rt_sigpending": 136, "rt_sigsuspend": 133,
        "rt_sigtimedwait": 137, "sigaltstack": 132, "kill": 129, "tgkill": 131, "rt_sigqueueinfo": 138,
        "rt_tgsigqueueinfo": 240, "setitimer": 103, "getitimer": 102, "timer_create": 107, "timer_settime": 110,
        "timer_gettime": 108, "timer_getoverrun": 109, "timer_delete": 111, "clock_gettime": 113,
        "clock_getres": 114, "gettimeofday": 169, "clock_nanosleep": 115, "nanosleep": 101, "fstat": 80,
        "statx": 291, "fstatfs": 44, "statfs": 43, "readv": 65, "writev": 66, "pread64": 67, "pwrite64": 68,
        "preadv": 69, "pwritev": 70, "preadv2": 286, "pwritev2": 287, "close_range": 436, "dup": 23, "dup3": 24,
        "fcntl": 25, "flock": 32, "ftruncate": 46, "truncate": 45, "fallocate": 47, "fadvise64": 223, "fsync": 82,
        "fdatasync": 83, "sendfile": 71, "copy_file_range": 285, "pipe2": 59, "eventfd2": 19, "ppoll": 73,
        "pselect6": 72, "epoll_create1": 20, "epoll_ctl": 21, "epoll_pwait": 22, "epoll_pwait2": 441,
        "recvmsg": 212, "sendmsg": 211, "shutdown": 210, "getsockopt": 209, "getsockname": 204, "getpeername": 205,
        "faccessat": 48, "faccessat2": 439, "chdir": 49, "fchdir": 50, "renameat": 38, "renameat2": 276,
        "linkat": 37, "symlinkat": 36, "umask": 166, "getxattr": 8, "lgetxattr": 9, "fgetxattr": 10,
        "listxattr": 11, "llistxattr": 12, "flistxattr": 13, "getppid": 173, "geteuid": 175, "getgid": 176,
        "getegid": 177, "getresuid": 148, "getresgid": 150, "getgroups": 158, "getpgid": 155, "getsid": 156,
        "capget": 90, "uname": 160, "sysinfo": 179, "getrusage": 165, "times": 153, "getcpu": 168, "prlimit64": 261,
        "getrlimit": 163, "setrlimit": 164, "getpriority": 141, "setpriority": 140, "sched_setaffinity": 122,
        "sched_getparam": 121, "sched_getscheduler": 120, "sched_getattr": 275, "sched_get_priority_max": 125,
        "sched_get_priority_min": 126,
    },
}  # fmt: skip
