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
import struct
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from grader.sandbox import policy, privilege
from grader.sandbox.libc import LIBC, set_no_new_privs

__all__ = [
    "LayerStatus",
    "SeccompFilter",
    "allowlist_size",
    "apply_landlock",
    "apply_seccomp",
    "landlock_abi",
    "prepare_seccomp",
    "privilege_attacks",
    "probe",
]


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
_PR_SET_THP_DISABLE = 41
_PR_SET_NAME = 15
_PR_SET_SECCOMP = 22

_libc = LIBC


def set_process_name(name: str) -> None:
    """Name this process in ps, top and perf (``grader-zygote``...); forks are otherwise all ``python``."""
    if _libc is not None:
        _libc.prctl(ctypes.c_int(_PR_SET_NAME), ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def set_parent_death_signal(sig: int) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (through the libc loaded once, at import)."""
    if _libc is not None:
        _libc.prctl(ctypes.c_int(_PR_SET_PDEATHSIG), ctypes.c_ulong(sig), 0, 0, 0)


def disable_huge_pages() -> None:
    """Give this process's new memory ordinary 4 KiB pages, whatever ``madvise`` or malloc's tunable asks.

    The zygote's heap is on transparent huge pages (``memory.py``), and the
    malloc it forks keeps asking for them. In a worker, a huge page is zeroed
    whole when first touched, and found by reclaiming or compacting memory when
    none is free: a student's 200 MiB buffer cost 0.62 s of CPU to fill on huge
    pages here, 0.14 s on ordinary ones, and what huge pages cost depends on the
    state of the machine's memory, not on the student. Pages inherited from the zygote are
    left as they are (a write still copies 4 KiB).
    """
    if _libc is not None:
        _libc.prctl(ctypes.c_int(_PR_SET_THP_DISABLE), ctypes.c_ulong(1), 0, 0, 0)


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
        if (code := set_no_new_privs()) != 0:
            return LayerStatus("landlock", False, f"could not set no_new_privs: {_errno_text(code)}")
        threads = thread_count()
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


def thread_count() -> int:
    """How many threads this process has (``/proc/self/task``, else Python's own count)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


# -- seccomp ----------------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_X32_SYSCALL_BIT = 0x40000000

_BPF_LD_W_ABS = 0x20
_BPF_ALU_AND_K = 0x54
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
_OFFSET_ARGS = 16  # args[i] at 16 + 8 i; its low 32 bits first on a little-endian machine

_DENY = _SECCOMP_RET_ERRNO | errno.EPERM
_ALLOW = _SECCOMP_RET_ALLOW


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


_Instruction: TypeAlias = tuple[int, int, int, int]
_Jump: TypeAlias = int | str  # a relative offset, or "pass"/"deny" resolved inside one rule's block


def allowed_calls(arch: str) -> list[policy.Rule]:
    """The rules of ``policy.RULES`` that exist on ``arch`` (aarch64 has no legacy calls), allowed or not."""
    table = policy.SYSCALLS[arch]
    return [rule for rule in policy.RULES if rule.name in table]


def _seccomp_program(arch: str, *, pid: int, group_leader: bool) -> list[_Instruction]:
    """The classic BPF filter: the policy's allowlist, default EPERM, the wrong arch killed.

    Each rule is a compare and a return (or a short block of argument tests
    ending in its own returns), so no jump is longer than one rule: BPF's
    conditional jumps are 8-bit and forward only.
    """
    table = policy.SYSCALLS[arch]
    code: list[_Instruction] = [
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        (_BPF_JEQ_K, 1, 0, _AUDIT_ARCH[arch]),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS),
        (_BPF_LD_W_ABS, 0, 0, _OFFSET_NR),
    ]
    if arch == "x86_64":  # the x32 ABI reuses the numbers with this bit set
        code += [(_BPF_JGE_K, 0, 1, _X32_SYSCALL_BIT), (_BPF_RET_K, 0, 0, _DENY)]
    for rule in allowed_calls(arch):
        if rule.errno is not None:
            block = [(_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | getattr(errno, rule.errno))]
        elif not rule.args:
            block = [(_BPF_RET_K, 0, 0, _ALLOW)]
        else:
            block = _argument_block(rule.args, pid=pid, group_leader=group_leader)
        code.append((_BPF_JEQ_K, 0, len(block), table[rule.name]))
        code += block
    code.append((_BPF_RET_K, 0, 0, _DENY))
    return code


def _argument_block(args: tuple[policy.Arg, ...], *, pid: int, group_leader: bool) -> list[_Instruction]:
    """Tests of one rule's arguments, then ALLOW; any failed test jumps to the block's own DENY."""
    symbolic: list[tuple[int, _Jump, _Jump, int]] = []
    for arg in args:
        load = (_BPF_LD_W_ABS, 0, 0, _OFFSET_ARGS + 8 * arg.index)
        if arg.none_of:
            symbolic += [load, (_BPF_JSET_K, "deny", 0, arg.none_of)]
        if arg.all_of:
            symbolic += [load, (_BPF_ALU_AND_K, 0, 0, arg.all_of), (_BPF_JEQ_K, 0, "deny", arg.all_of)]
        values = _resolve(arg.any_of, pid=pid, group_leader=group_leader)
        if arg.any_of:
            symbolic.append(load)
            if not values:  # nothing can match (a placeholder that does not apply)
                symbolic.append((_BPF_JEQ_K, "deny", "deny", 0))
            for i, value in enumerate(values):
                last = i == len(values) - 1
                # A match skips the remaining compares of this test; the last miss is a denial.
                symbolic.append((_BPF_JEQ_K, len(values) - 1 - i, "deny" if last else 0, value))
    symbolic += [(_BPF_RET_K, 0, 0, _ALLOW), (_BPF_RET_K, 0, 0, _DENY)]
    deny = len(symbolic) - 1

    def offset(here: int, jump: _Jump) -> int:
        return deny - here - 1 if jump == "deny" else int(jump)

    return [(op, offset(i, jt), offset(i, jf), k) for i, (op, jt, jf, k) in enumerate(symbolic)]


def _resolve(values: tuple[policy.Value, ...], *, pid: int, group_leader: bool) -> list[int]:
    resolved: list[int] = []
    for value in values:
        if value == policy.SELF:
            resolved.append(pid)
        elif value in (policy.SELF_GROUP, policy.ZERO):
            if group_leader:
                resolved.append(-pid & 0xFFFFFFFF if value == policy.SELF_GROUP else 0)
        else:
            assert isinstance(value, int)
            resolved.append(value & 0xFFFFFFFF)
    return resolved


@dataclass(frozen=True)
class SeccompFilter:
    """The allowlist assembled once, before the process it is for exists; ``for_pid`` patches its pid in.

    The zygote prepares it once (``prepare_seccomp``): each worker then
    installs it without building some 400 instructions in Python.
    """

    arch: str
    group_leader: bool
    #: The packed ``sock_filter`` array, with 0 wherever the process's pid goes.
    code: bytes
    #: Byte offsets of the ``k`` fields that hold the pid, and of those that hold minus the pid.
    pid_at: tuple[int, ...]
    minus_pid_at: tuple[int, ...]
    #: How many system calls it allows (``allowlist_size``).
    allowed: int

    @property
    def instructions(self) -> int:
        return len(self.code) // _INSTRUCTION.size

    def for_pid(self, pid: int) -> bytearray:
        """The program for process ``pid``, ready to install."""
        code = bytearray(self.code)
        for offset in self.pid_at:
            _K.pack_into(code, offset, pid & 0xFFFFFFFF)
        for offset in self.minus_pid_at:
            _K.pack_into(code, offset, -pid & 0xFFFFFFFF)
        return code


_INSTRUCTION = struct.Struct("<HBBI")  # struct sock_filter: code, jt, jf, k (little-endian machines only)
_K = struct.Struct("<I")
_K_OFFSET = 4
#: Stand-ins for the pid while the program is assembled: above any pid the kernel hands out (2^22).
_PID_PROBES = (0x3A5A5A5A, 0x35A5A5A5)


def _pack(program: list[_Instruction]) -> bytes:
    return b"".join(_INSTRUCTION.pack(*instruction) for instruction in program)


def prepare_seccomp(*, group_leader: bool = True, arch: str | None = None) -> SeccompFilter | None:
    """Assemble the allowlist for a process to come (a worker leads its group: ``setsid``); None if unsupported."""
    arch = arch or _arch()
    if arch is None:
        return None
    first, second = (_seccomp_program(arch, pid=pid, group_leader=group_leader) for pid in _PID_PROBES)
    if len(first) != len(second):
        raise AssertionError("the seccomp program's shape depends on the pid")
    pid_at: list[int] = []
    minus_pid_at: list[int] = []
    base: list[_Instruction] = []
    for i, (a, b) in enumerate(zip(first, second, strict=True)):
        if a == b:
            base.append(a)
            continue
        if a[:3] != b[:3]:
            raise AssertionError("the seccomp program's jumps depend on the pid")
        if (a[3], b[3]) == _PID_PROBES:
            pid_at.append(i * _INSTRUCTION.size + _K_OFFSET)
        elif (a[3], b[3]) == tuple(-p & 0xFFFFFFFF for p in _PID_PROBES):
            minus_pid_at.append(i * _INSTRUCTION.size + _K_OFFSET)
        else:
            raise AssertionError("a seccomp instruction depends on the pid in an unknown way")
        base.append((*a[:3], 0))
    return SeccompFilter(arch, group_leader, _pack(base), tuple(pid_at), tuple(minus_pid_at), allowlist_size(arch))


def apply_seccomp(prepared: SeccompFilter | None = None) -> LayerStatus:
    """Install the allowlist on this process (all its threads); EPERM for every other call.

    ``prepared``: the program assembled in advance (``prepare_seccomp``); used
    when it was made for this process's architecture and group leadership.
    """
    try:
        return _apply_seccomp(prepared)
    except Exception as exc:  # noqa: BLE001 - a layer that cannot be applied is reported, never raised
        return LayerStatus("seccomp", False, f"could not be applied: {type(exc).__name__}: {exc}")


def _apply_seccomp(prepared: SeccompFilter | None) -> LayerStatus:
    arch = _arch()
    if _libc is None or arch is None:
        return LayerStatus(
            "seccomp", False, f"unsupported platform ({sys.platform} {platform.machine()}, 64-bit x86_64/aarch64 only)"
        )
    pid = os.getpid()
    group_leader = os.getpgrp() == pid
    if prepared is None or prepared.arch != arch or prepared.group_leader != group_leader:
        prepared = prepare_seccomp(group_leader=group_leader, arch=arch)
        assert prepared is not None
    program = prepared.for_pid(pid)
    filters = (ctypes.c_char * len(program)).from_buffer(program)
    prog = _SockFprog(prepared.instructions, ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    if (code := set_no_new_privs()) != 0:
        return LayerStatus("seccomp", False, f"could not set no_new_privs: {_errno_text(code)}")
    # seccomp(2) with TSYNC also covers threads that already exist; prctl is the pre-3.17 fallback.
    result, code = _syscall(
        _SYS_SECCOMP[arch], _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.addressof(prog)
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
    return LayerStatus("seccomp", True, describe_seccomp(arch, prepared.instructions, allowed=prepared.allowed))


def allowlist_size(arch: str | None = None) -> int:
    """How many system calls the allowlist lets through (some only with given arguments) on ``arch``."""
    arch = arch or _arch()
    return sum(rule.errno is None for rule in allowed_calls(arch)) if arch else 0


def describe_seccomp(arch: str, instructions: int, *, allowed: int | None = None) -> str:
    """The seccomp layer in words: how many calls are allowed (``allowed``, else counted), and what that leaves out."""
    allowed = allowlist_size(arch) if allowed is None else allowed
    return (
        f"allowlist of {allowed} calls ({instructions}-instruction filter, {arch}), "
        "everything else EPERM: "
        "no sockets, no new processes or programs, no file metadata changes (chmod, chown, utime, xattrs), "
        "no host name or clock, signals, priority, limits and CPUs of itself only"
    )


# -- probe ------------------------------------------------------------------------

_PROBE_TIMEOUT_S = 10.0


def probe() -> list[LayerStatus]:
    """Which layers this machine can apply and actually enforce, for ``grader doctor``.

    Each layer is applied in a throwaway forked child and then attacked there,
    so a layer that installs but does not bite is reported as inactive. Every
    attack is a no-op where it succeeds (the host name set to itself, a mode to
    itself, the parent's priority to its current value), so a probe never
    changes the machine, even on a machine where the layer is missing.
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
    with tempfile.TemporaryDirectory(prefix="grader-doctor-") as folder:
        os.chmod(folder, 0o755)  # our own folder: the worker uid must reach the file to be refused by its owner
        target = Path(folder) / "not-yours.txt"
        target.write_text("a file outside scratch\n")
        target.chmod(0o644)
        statuses.append(_in_child("identity", lambda: _probe_identity(target)))
        statuses.append(_in_child("seccomp", lambda: _probe_seccomp(target)))
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


def privilege_attacks(target: Path) -> dict[str, int]:
    """Attack what a privileged process could change, each as a no-op; the errno of each (0: it went through).

    The host name is set to itself, ``target``'s mode to its mode, and the
    parent's priority to its current value: what would go through changes
    nothing, yet proves the layer does not hold.
    """
    parent = os.getppid()
    mode = stat.S_IMODE(os.stat(target).st_mode)
    nice = os.getpriority(os.PRIO_PROCESS, 0)  # a fork keeps its parent's nice value
    return {
        "sethostname": _attempt(lambda: socket.sethostname(socket.gethostname())),
        "chmod outside scratch": _attempt(lambda: os.chmod(target, mode)),
        "setpriority of the parent": _attempt(lambda: os.setpriority(os.PRIO_PROCESS, parent, nice)),
    }


def _attack_summary(results: dict[str, int]) -> tuple[list[str], list[str]]:
    refused = [f"{name} refused ({errno.errorcode.get(code, code)})" for name, code in results.items() if code]
    allowed = [name for name, code in results.items() if not code]
    return refused, allowed


def _probe_identity(target: Path) -> LayerStatus:
    paths = [Path(p) for p in {sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]}]
    layer, detail = privilege.drop(privilege.plan([str(p) for p in paths]), owned=[])
    if layer is None:
        return LayerStatus("identity", False, detail)
    refused, allowed = _attack_summary(privilege_attacks(target))
    if layer != "unprivileged":
        return LayerStatus(
            "identity", False, f"{detail}; " + "; ".join(refused + [f"{a} went through" for a in allowed])
        )
    if allowed and os.getuid() == os.stat(target).st_uid:
        # An ordinary user's worker is that user: its files and processes are its own, and only the
        # seccomp allowlist keeps it off them (probed below, under "seccomp").
        own = {"chmod outside scratch", "setpriority of the parent"}
        refused += [f"{a} of the user's own file or process left to seccomp" for a in allowed if a in own]
        allowed = [a for a in allowed if a not in own]
    if allowed:
        return LayerStatus("identity", False, f"{detail}; but {', '.join(allowed)} went through (as a no-op)")
    return LayerStatus("identity", True, f"{detail}; " + "; ".join(refused))


def _probe_seccomp(target: Path) -> LayerStatus:
    status = apply_seccomp()
    if not status.active:
        return status
    if (code := _attempt(lambda: socket.socket().close())) != errno.EPERM:
        return LayerStatus("seccomp", False, f"applied, but socket() was not refused (errno {code})")
    if (code := _attempt(_fork_and_reap)) != errno.EPERM:
        return LayerStatus("seccomp", False, f"applied, but fork() was not refused (errno {code})")
    results = privilege_attacks(target)
    if allowed := [name for name, code in results.items() if code != errno.EPERM]:
        return LayerStatus("seccomp", False, f"applied, but {', '.join(allowed)} went through (as a no-op)")
    ran: list[bool] = []
    thread = threading.Thread(target=lambda: ran.append(True))
    thread.start()
    thread.join(5)
    if not ran:
        return LayerStatus("seccomp", False, "applied, but it broke threads")
    return LayerStatus("seccomp", True, status.detail + "; probed: " + ", ".join(results) + " refused (EPERM)")


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
