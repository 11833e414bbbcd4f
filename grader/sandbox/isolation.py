"""Kernel isolation layers for a worker: Landlock and seccomp, applied with ctypes.

Stdlib only, so the module imports on any Linux. Every ``apply_*`` returns a
``LayerStatus`` instead of raising: a machine without a layer still grades,
and ``grader doctor`` says plainly which protections are in force rather than
pretending (ARCHITECTURE.md, principle 5). Both layers restrict only the
calling thread and its future children, so they are applied right after the
fork, while the worker is still single-threaded.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform
import select
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

__all__ = ["LayerStatus", "apply_landlock", "apply_seccomp", "landlock_abi", "probe"]


@dataclass(frozen=True)
class LayerStatus:
    """Whether one isolation layer is in force, in words a teacher can act on."""

    #: "rlimits", "landlock", "landlock-network", "landlock-scoping" or "seccomp".
    name: str
    active: bool
    #: What the layer does, or why it is not active.
    detail: str


# -- libc ---------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22

_libc: ctypes.CDLL | None
try:
    _libc = ctypes.CDLL(None, use_errno=True)
    _libc.syscall.restype = ctypes.c_long
    _libc.prctl.restype = ctypes.c_int
except (OSError, AttributeError):  # not glibc/musl: every layer reports itself unavailable
    _libc = None


def set_process_name(name: str) -> None:
    """Name this process in ps, top and perf (``grader-zygote``...); forks are otherwise all ``python``."""
    if _libc is not None:
        _libc.prctl(ctypes.c_int(_PR_SET_NAME), ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def set_parent_death_signal(sig: int) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (through the libc loaded once, at import)."""
    if _libc is not None:
        _libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(sig), 0, 0, 0)


def _arch() -> str | None:
    """The syscall table this process uses, or None when it is not one we know.

    A 32-bit Python on a 64-bit kernel reports the kernel's machine but makes
    32-bit syscalls, and a big-endian aarch64 has another audit arch; a
    seccomp filter built for the wrong one would kill every syscall.
    """
    if sys.platform != "linux" or ctypes.sizeof(ctypes.c_void_p) != 8 or sys.byteorder != "little":
        return None
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "aarch64"
    return None


def _syscall(number: int, *args: int) -> tuple[int, int]:
    """Return (result, errno); arguments travel as longs so pointers are not truncated."""
    assert _libc is not None
    ctypes.set_errno(0)
    result = int(_libc.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args)))
    return result, ctypes.get_errno()


def _no_new_privs() -> int:
    """Set no_new_privs; return 0 or the errno."""
    assert _libc is not None
    ctypes.set_errno(0)
    zero = ctypes.c_ulong(0)
    if _libc.prctl(ctypes.c_int(_PR_SET_NO_NEW_PRIVS), ctypes.c_ulong(1), zero, zero, zero) != 0:
        return ctypes.get_errno() or errno.EPERM
    return 0


def _errno_text(code: int) -> str:
    return f"{os.strerror(code)} ({errno.errorcode.get(code, code)})"


# -- Landlock ---------------------------------------------------------------------

_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on x86_64 and aarch64
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_MAKE_CHAR = 1 << 6
_FS_MAKE_BLOCK = 1 << 11
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_FS_ABI1 = (1 << 13) - 1  # the thirteen rights of ABI 1
#: Rights that make sense on a single file; the kernel refuses a file rule holding a directory right.
_FS_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV
_FS_READ = _FS_READ_FILE | _FS_READ_DIR | _FS_EXECUTE
#: A root worker that may create device nodes in its scratch could open the raw disk.
_FS_NEVER = _FS_MAKE_CHAR | _FS_MAKE_BLOCK

_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is __attribute__((packed)): 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers, 0 when it offers none."""
    if _libc is None or _arch() is None:
        return 0
    try:
        result, _ = _syscall(_SYS_LANDLOCK_CREATE_RULESET, 0, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    except (OSError, AttributeError, ValueError):
        return 0
    return max(result, 0)


def _landlock_unavailable() -> str:
    if _libc is None:
        return "no C library to make system calls through"
    if _arch() is None:
        return f"unsupported platform ({sys.platform} {platform.machine()}, 64-bit x86_64/aarch64 only)"
    _, code = _syscall(_SYS_LANDLOCK_CREATE_RULESET, 0, 0, _LANDLOCK_CREATE_RULESET_VERSION)
    if code == errno.ENOSYS:
        return "kernel lacks Landlock (ENOSYS)"
    if code == errno.EOPNOTSUPP:
        return "Landlock is built into the kernel but disabled at boot (EOPNOTSUPP; add landlock to lsm=)"
    return f"Landlock unavailable: {_errno_text(code)}"


def _handled_fs(abi: int) -> int:
    rights = _FS_ABI1
    if abi >= 2:
        rights |= _FS_REFER
    if abi >= 3:
        rights |= _FS_TRUNCATE
    if abi >= 5:
        rights |= _FS_IOCTL_DEV
    return rights


def apply_landlock(*, read_paths: list[Path], write_paths: list[Path], read_files: list[Path]) -> LayerStatus:
    """Restrict this thread and its future children to the given paths; no TCP, no signals out.

    Paths that do not exist are skipped. Descriptors opened before the call
    (the worker's channel, its output file) keep working: Landlock checks
    access when a path is opened, not when a descriptor is used.
    """
    try:
        return _apply_landlock(read_paths=read_paths, write_paths=write_paths, read_files=read_files)
    except Exception as exc:  # noqa: BLE001 - a layer that cannot be applied is reported, never raised
        return LayerStatus("landlock", False, f"could not be applied: {type(exc).__name__}: {exc}")


def _apply_landlock(*, read_paths: list[Path], write_paths: list[Path], read_files: list[Path]) -> LayerStatus:
    abi = landlock_abi()
    if abi < 1:
        return LayerStatus("landlock", False, _landlock_unavailable())
    attr = _RulesetAttr(handled_access_fs=_handled_fs(abi))
    size = ctypes.sizeof(ctypes.c_uint64)
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP  # handled with no rule: no TCP at all
        size += ctypes.sizeof(ctypes.c_uint64)
    if abi >= 6:
        attr.scoped = _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET
        size += ctypes.sizeof(ctypes.c_uint64)
    ruleset_fd, code = _syscall(_SYS_LANDLOCK_CREATE_RULESET, ctypes.addressof(attr), size, 0)
    if ruleset_fd < 0:
        return LayerStatus("landlock", False, f"could not create a ruleset: {_errno_text(code)}")
    try:
        handled = attr.handled_access_fs
        skipped: list[str] = []
        granted = 0
        rules = [(p, _FS_READ) for p in read_paths]
        rules += [(p, handled & ~_FS_NEVER) for p in write_paths]
        rules += [(p, _FS_READ_FILE | (_FS_WRITE_FILE if str(p) == os.devnull else 0)) for p in read_files]
        for path, rights in rules:
            problem = _add_path_rule(ruleset_fd, path, rights & handled)
            if problem is None:
                granted += 1
            elif problem:
                skipped.append(f"{path} ({problem})")
        if (code := _no_new_privs()) != 0:
            return LayerStatus("landlock", False, f"could not set no_new_privs: {_errno_text(code)}")
        threads = _thread_count()
        result, code = _syscall(_SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0)
        if result != 0:
            return LayerStatus("landlock", False, f"could not restrict this process: {_errno_text(code)}")
    finally:
        os.close(ruleset_fd)
    detail = [
        f"ABI {abi}: only the {granted} granted path(s) are reachable, writes only under "
        + (", ".join(str(p) for p in write_paths) or "none of them"),
        "no TCP bind or connect" if abi >= 4 else "TCP not restricted (needs ABI 4)",
        "no signals or abstract UNIX sockets outside the sandbox" if abi >= 6 else "signals not scoped (needs ABI 6)",
    ]
    if skipped:
        detail.append("rules not added for " + "; ".join(skipped))
    if threads > 1:
        detail.append(f"{threads - 1} threads started before it are not restricted")
    return LayerStatus("landlock", True, "; ".join(detail))


def _add_path_rule(ruleset_fd: int, path: Path, rights: int) -> str | None:
    """Grant ``rights`` beneath ``path``: None when added, "" when absent, else the reason."""
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return ""
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FS_FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        result, code = _syscall(
            _SYS_LANDLOCK_ADD_RULE, ruleset_fd, _LANDLOCK_RULE_PATH_BENEATH, ctypes.addressof(rule), 0
        )
        return None if result == 0 else _errno_text(code)
    finally:
        os.close(fd)


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


# -- seccomp ----------------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_SYSCALL_BIT = 0x40000000

#: Denied with EPERM. The worker already holds its one socket; it needs no
#: other, no new process and no program, and none of the administrative calls
#: a root process could otherwise use to reach outside (mounts, namespaces,
#: modules, raw I/O ports, fanotify on the grader's files, file handles that
#: bypass paths, realtime scheduling that starves the grader).
_DENY_NAMES = (
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4", "fork", "vfork", "execve",
    "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
    "pidfd_getfd", "pidfd_send_signal", "tkill", "mount", "umount2", "unshare", "setns", "pivot_root",
    "chroot", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "personality", "io_uring_setup",
    "userfaultfd", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
    "kexec_load", "kexec_file_load", "mknod", "mknodat", "open_by_handle_at", "fanotify_init", "iopl",
    "ioperm", "syslog", "acct", "sched_setparam", "sched_setscheduler", "sched_setattr",
)  # fmt: skip

_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "socket": 41, "socketpair": 53, "connect": 42, "bind": 49, "listen": 50, "accept": 43,
        "accept4": 288, "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "execve": 59,
        "execveat": 322, "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311,
        "process_madvise": 440, "kcmp": 312, "pidfd_getfd": 438, "pidfd_send_signal": 424,
        "kill": 62, "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
        "mount": 165, "umount2": 166, "unshare": 272, "setns": 308, "pivot_root": 155, "chroot": 161,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "bpf": 321, "perf_event_open": 298, "keyctl": 250,
        "add_key": 248, "request_key": 249, "personality": 135, "io_uring_setup": 425,
        "userfaultfd": 323, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "reboot": 169, "swapon": 167, "swapoff": 168, "kexec_load": 246, "kexec_file_load": 320,
        "mknod": 133, "mknodat": 259, "open_by_handle_at": 304, "fanotify_init": 300, "iopl": 172,
        "ioperm": 173, "syslog": 103, "acct": 163, "sched_setparam": 142, "sched_setscheduler": 144,
        "sched_setattr": 314, "seccomp": 317,
    },
    # asm-generic numbering; aarch64 has no fork, vfork, mknod, iopl or ioperm.
    "aarch64": {
        "socket": 198, "socketpair": 199, "connect": 203, "bind": 200, "listen": 201, "accept": 202,
        "accept4": 242, "clone": 220, "clone3": 435, "execve": 221, "execveat": 281, "ptrace": 117,
        "process_vm_readv": 270, "process_vm_writev": 271, "process_madvise": 440, "kcmp": 272,
        "pidfd_getfd": 438, "pidfd_send_signal": 424, "kill": 129, "tkill": 130, "tgkill": 131,
        "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "mount": 40, "umount2": 39, "unshare": 97,
        "setns": 268, "pivot_root": 41, "chroot": 51, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
        "bpf": 280, "perf_event_open": 241, "keyctl": 219, "add_key": 217, "request_key": 218,
        "personality": 92, "io_uring_setup": 425, "userfaultfd": 282, "init_module": 105,
        "finit_module": 273, "delete_module": 106, "reboot": 142, "swapon": 224, "swapoff": 225,
        "kexec_load": 104, "kexec_file_load": 294, "mknodat": 33, "open_by_handle_at": 265,
        "fanotify_init": 262, "syslog": 116, "acct": 89, "sched_setparam": 118,
        "sched_setscheduler": 119, "sched_setattr": 274, "seccomp": 277,
    },
}  # fmt: skip

#: Signal calls whose first argument names the target process.
_SIGNAL_NAMES = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")

_CLONE_THREAD = 0x00010000
_CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_JSET_K = 0x45
_BPF_RET_K = 0x06
_SECCOMP_RET_KILL_PROCESS = 0x80000000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_SECCOMP_MODE_FILTER = 2
_OFFSET_NR = 0
_OFFSET_ARCH = 4
_OFFSET_ARG0 = 16  # low 32 bits of args[0] on a little-endian machine


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_Jump: TypeAlias = int | str  # a relative offset, or a label resolved by _assemble


def _seccomp_program(arch: str, *, pid: int, group_leader: bool) -> list[tuple[int, int, int, int]]:
    """The classic BPF filter as (code, jt, jf, k) instructions.

    clone is allowed only for threads (CLONE_THREAD, no namespace flags);
    clone3 answers ENOSYS because its flags sit in memory a filter cannot read,
    which makes glibc fall back to clone. Signals may target only this
    process (or its own group when it leads one): kill(-1) from a root worker
    would otherwise end every process on the machine where Landlock cannot
    scope signals.
    """
    table = _SYSCALLS[arch]
    code: list[tuple[int, _Jump, _Jump, int]] = [
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        (_BPF_JEQ_K, 0, "kill", _AUDIT_ARCH[arch]),
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_NR),
    ]
    if arch == "x86_64":
        code.append((_BPF_JGE_K, "deny", 0, _X32_SYSCALL_BIT))
    code += [(_BPF_JEQ_K, "deny", 0, table[name]) for name in _DENY_NAMES if name in table]
    code.append((_BPF_JEQ_K, "clone", 0, table["clone"]))
    code.append((_BPF_JEQ_K, "enosys", 0, table["clone3"]))
    code += [(_BPF_JEQ_K, "signal", 0, table[name]) for name in _SIGNAL_NAMES]
    code.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    labels: dict[str, int] = {}

    def label(name: str) -> None:
        labels[name] = len(code)

    # BPF jumps only forward, so the shared returns come last.
    label("clone")
    code.append((_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG0))
    code.append((_BPF_JSET_K, "deny", 0, _CLONE_NAMESPACES))
    code.append((_BPF_JSET_K, "allow", "deny", _CLONE_THREAD))
    label("signal")
    code.append((_BPF_LD_W_ABS, 0, 0, _OFFSET_ARG0))
    targets = [pid] + ([0, -pid & 0xFFFFFFFF] if group_leader else [])
    code += [(_BPF_JEQ_K, "allow", 0, target) for target in targets]
    label("deny")
    code.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.EPERM))
    label("allow")
    code.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW))
    label("enosys")
    code.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno.ENOSYS))
    label("kill")
    code.append((_BPF_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS))
    return _assemble(code, labels)


def _assemble(code: list[tuple[int, _Jump, _Jump, int]], labels: dict[str, int]) -> list[tuple[int, int, int, int]]:
    def offset(here: int, jump: _Jump) -> int:
        if isinstance(jump, int):
            return jump
        distance = labels[jump] - here - 1
        if not 0 <= distance <= 255:  # conditional BPF jumps are 8-bit and forward only
            raise ValueError(f"BPF jump to {jump} out of range")
        return distance

    return [(op, offset(i, jt), offset(i, jf), k) for i, (op, jt, jf, k) in enumerate(code)]


def apply_seccomp() -> LayerStatus:
    """Install the syscall filter on this process (all its threads); EPERM for what is denied."""
    try:
        return _apply_seccomp()
    except Exception as exc:  # noqa: BLE001 - a layer that cannot be applied is reported, never raised
        return LayerStatus("seccomp", False, f"could not be applied: {type(exc).__name__}: {exc}")


def _apply_seccomp() -> LayerStatus:
    arch = _arch()
    if _libc is None or arch is None:
        return LayerStatus(
            "seccomp", False, f"unsupported platform ({sys.platform} {platform.machine()}, 64-bit x86_64/aarch64 only)"
        )
    pid = os.getpid()
    program = _seccomp_program(arch, pid=pid, group_leader=os.getpgrp() == pid)
    filters = (_SockFilter * len(program))(*(_SockFilter(c, jt, jf, k) for c, jt, jf, k in program))
    prog = _SockFprog(len(program), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    if (code := _no_new_privs()) != 0:
        return LayerStatus("seccomp", False, f"could not set no_new_privs: {_errno_text(code)}")
    # seccomp(2) with TSYNC also covers threads that already exist; prctl is the pre-3.17 fallback.
    result, code = _syscall(
        _SYSCALLS[arch]["seccomp"], _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.addressof(prog)
    )
    if result != 0:
        ctypes.set_errno(0)
        zero = ctypes.c_ulong(0)
        address = ctypes.c_ulong(ctypes.addressof(prog))
        if _libc.prctl(ctypes.c_int(_PR_SET_SECCOMP), ctypes.c_ulong(_SECCOMP_MODE_FILTER), address, zero, zero) != 0:
            code = ctypes.get_errno()
            if code == errno.EINVAL:
                return LayerStatus("seccomp", False, "kernel lacks seccomp filters (EINVAL)")
            return LayerStatus("seccomp", False, f"could not install the filter: {_errno_text(code)}")
    return LayerStatus(
        "seccomp",
        True,
        f"{len(program)}-instruction filter: no sockets, no new processes (fork, non-thread clone, exec), "
        "no ptrace or cross-process memory access, no signals to other processes, no mounts, namespaces, "
        "modules, BPF or keyrings (EPERM)",
    )


# -- probe ------------------------------------------------------------------------

_PROBE_TIMEOUT_S = 10.0


def probe() -> list[LayerStatus]:
    """Which layers this machine can apply and actually enforce, for ``grader doctor``.

    Each layer is applied in a throwaway forked child and then attacked there,
    so a layer that installs but does not bite is reported as inactive.
    """
    statuses = [_rlimits_status()]
    abi = landlock_abi()
    statuses.append(_in_child("landlock", _probe_landlock))
    if abi >= 4:
        statuses.append(_probe_network())
    else:
        why = "Landlock unavailable" if abi == 0 else f"Landlock ABI {abi} cannot restrict TCP (needs ABI 4)"
        statuses.append(LayerStatus("landlock-network", False, why))
    if abi >= 6:
        statuses.append(_in_child("landlock-scoping", _probe_scoping))
    else:
        why = "Landlock unavailable" if abi == 0 else f"Landlock ABI {abi} cannot scope signals (needs ABI 6)"
        statuses.append(LayerStatus("landlock-scoping", False, why))
    statuses.append(_in_child("seccomp", _probe_seccomp))
    return statuses


def _rlimits_status() -> LayerStatus:
    detail = "per call: address space, CPU time, file size, open files, no core dumps"
    if os.geteuid() == 0:
        detail += "; running as root, so RLIMIT_NPROC is ignored and cannot stop a fork bomb (seccomp's fork ban does)"
    return LayerStatus("rlimits", True, detail)


def _attempt(action: Callable[[], object]) -> int:
    """Run ``action``; return 0 if it succeeded, else its errno (-1 when it had none)."""
    try:
        action()
    except OSError as exc:
        return exc.errno or -1
    return 0


def _probe_landlock() -> LayerStatus:
    allowed = Path(sys.prefix)
    status = apply_landlock(read_paths=[allowed], write_paths=[], read_files=[])
    if not status.active:
        return status
    if (code := _attempt(lambda: os.listdir(allowed))) != 0:
        return LayerStatus(
            "landlock", False, f"applied, but a granted directory became unreadable: {_errno_text(code)}"
        )
    if (code := _attempt(lambda: os.listdir("/"))) != errno.EACCES:
        return LayerStatus("landlock", False, "applied, but a path outside the granted ones was still readable")
    return status


def _probe_network() -> LayerStatus:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def connect() -> LayerStatus:
            status = apply_landlock(read_paths=[], write_paths=[], read_files=[])
            if not status.active:
                return LayerStatus("landlock-network", False, status.detail)
            with socket.socket() as client:
                code = _attempt(lambda: client.connect(("127.0.0.1", port)))
            if code != errno.EACCES:
                return LayerStatus("landlock-network", False, "applied, but a TCP connection to localhost still opened")
            return LayerStatus("landlock-network", True, "no TCP bind or connect (Landlock ABI 4)")

        return _in_child("landlock-network", connect)


def _probe_scoping() -> LayerStatus:
    status = apply_landlock(read_paths=[], write_paths=[], read_files=[])
    if not status.active:
        return LayerStatus("landlock-scoping", False, status.detail)
    if _attempt(lambda: os.kill(os.getppid(), 0)) != errno.EPERM:
        return LayerStatus("landlock-scoping", False, "applied, but the parent process could still be signalled")
    return LayerStatus(
        "landlock-scoping", True, "no signals or abstract UNIX sockets outside the sandbox (Landlock ABI 6)"
    )


def _probe_seccomp() -> LayerStatus:
    status = apply_seccomp()
    if not status.active:
        return status
    if (code := _attempt(lambda: socket.socket().close())) != errno.EPERM:
        return LayerStatus("seccomp", False, f"applied, but socket() was not refused (errno {code})")
    if (code := _attempt(_fork_and_reap)) != errno.EPERM:
        return LayerStatus("seccomp", False, f"applied, but fork() was not refused (errno {code})")
    ran: list[bool] = []
    thread = threading.Thread(target=lambda: ran.append(True))
    thread.start()
    thread.join(5)
    if not ran:
        return LayerStatus("seccomp", False, "applied, but it broke threads")
    return status


def _fork_and_reap() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def _in_child(name: str, check: Callable[[], LayerStatus]) -> LayerStatus:
    """Run ``check`` in a forked child that is thrown away, and bring back its status."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which always leaves by os._exit
        try:
            os.close(read_end)
            try:
                status = check()
            except BaseException as exc:  # noqa: BLE001 - the child must reach os._exit whatever happens
                status = LayerStatus(name, False, f"the probe failed: {type(exc).__name__}: {exc}")
            os.write(write_end, json.dumps([status.active, status.detail]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        data, finished = _read_all(read_end, _PROBE_TIMEOUT_S)
    finally:
        os.close(read_end)
    exit_status = _reap(pid, hung=not finished)
    try:
        active, detail = json.loads(data)
        return LayerStatus(name, bool(active), str(detail))
    except (ValueError, TypeError):
        return LayerStatus(name, False, f"the probe did not finish: {exit_status}")


def _read_all(fd: int, timeout_s: float) -> tuple[bytes, bool]:
    """Read until end of file; the flag is False when the writer went silent for ``timeout_s``."""
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        if not ready:
            return b"".join(chunks), False
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _reap(pid: int, *, hung: bool) -> str:
    """Wait for the child, killing it first if it hung; describe how it ended."""
    if hung:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return "it hung and was killed"
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"it was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"it exited with status {os.waitstatus_to_exitcode(status)}"
