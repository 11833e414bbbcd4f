"""No privilege in a worker: an unprivileged uid and gid, no capabilities, locked securebits.

A grader run as root (CI jobs, containers) would otherwise hand every
capability to student code: ``sethostname``, ``chown`` of any file, raising
its own limits. Before any student code runs, a worker forked by a root
zygote becomes the worker identity (``GRADER_WORKER_USER``, default
``DEFAULT_UID:DEFAULT_GID``, a uid no account owns on a usual system), with no
supplementary groups, every capability set empty (effective, permitted,
inheritable, ambient, bounding), securebits locked so it can never regain
them, and ``no_new_privs``.

The other uid must still reach Python, or a student's lazy ``import
statistics`` fails. Where Python lives under a folder that uid cannot
traverse (pyenv in ``/root``, mode 700), the zygote makes a private mount
namespace once, at start: a read-only tmpfs over that folder, with only the
trees workers may read bound back at their own paths. Nothing outside the
zygote's namespace changes, no mode on the machine is touched, and the
grading processes it forks go back to the original namespace first. Where
no namespace can be made (a container without CAP_SYS_ADMIN), workers stay
uid 0 but with no capabilities at all, and say so.

Stdlib only, applied with ctypes like ``isolation``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import grp
import os
import platform
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.libc import LIBC, set_no_new_privs

__all__ = [
    "DEFAULT_GID",
    "DEFAULT_UID",
    "Identity",
    "Plan",
    "drop",
    "leave_private_view",
    "plan",
]

#: Outside the ranges Debian, Fedora and systemd hand out (system and regular users, systemd-homed,
#: DynamicUser), below nobody (65534) and the container ranges above 65535.
DEFAULT_UID = 61000
DEFAULT_GID = 61000
#: ``uid``, ``uid:gid``, ``name`` or ``name:group``.
ENVIRONMENT_VARIABLE = "GRADER_WORKER_USER"

_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_SECBIT_NOROOT = 1 << 0
_SECBIT_NOROOT_LOCKED = 1 << 1
_SECBIT_NO_SETUID_FIXUP_LOCKED = 1 << 3
_SECBIT_KEEP_CAPS_LOCKED = 1 << 5
_SECBIT_NO_CAP_AMBIENT_RAISE = 1 << 6
_SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED = 1 << 7
#: No root magic on exec, ambient raising off, and the setuid fixup (which empties the capability sets
#: when the uid leaves 0) kept on; all locked.
_SECUREBITS = (
    _SECBIT_NOROOT
    | _SECBIT_NOROOT_LOCKED
    | _SECBIT_NO_SETUID_FIXUP_LOCKED
    | _SECBIT_KEEP_CAPS_LOCKED
    | _SECBIT_NO_CAP_AMBIENT_RAISE
    | _SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
)
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_CAPGET = {"x86_64": 125, "aarch64": 90}
_CAPSET = {"x86_64": 126, "aarch64": 91}

_CLONE_NEWNS = 0x00020000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_libc = LIBC


@dataclass(frozen=True)
class Identity:
    """The uid and gid workers run as when the grader is root."""

    uid: int
    gid: int

    def describe(self) -> str:
        try:
            user = f" ({pwd.getpwuid(self.uid).pw_name})"
        except KeyError:
            user = " (no account)"
        return f"uid {self.uid}{user}, gid {self.gid}"


@dataclass(frozen=True)
class Plan:
    """What each worker of this zygote does: become ``identity``, or (None) keep its uid but no capabilities."""

    identity: Identity | None
    #: Why workers keep uid 0, or how Python was made reachable; shown by ``grader doctor``.
    note: str = ""


def configured_identity(environ: dict[str, str] | os._Environ[str] = os.environ) -> Identity:
    """The worker identity named by ``GRADER_WORKER_USER``, or the default; a bad value is a clear error."""
    value = environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not value:
        return Identity(DEFAULT_UID, DEFAULT_GID)
    user, _, group = value.partition(":")
    try:
        uid = int(user) if user.isdigit() else pwd.getpwnam(user).pw_uid
        if group:
            gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
        else:
            gid = uid if user.isdigit() else pwd.getpwnam(user).pw_gid
    except KeyError:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={value!r}: no such user or group") from None
    if uid == 0 or gid == 0:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}={value!r}: workers must not run as root")
    return Identity(uid, gid)


# -- the zygote: can the identity reach Python? -------------------------------------------


def _searchable(info: os.stat_result, identity: Identity, bit: int) -> bool:
    """Whether ``identity`` (no supplementary groups) has permission ``bit`` (1 x, 4 r) on the inode."""
    if info.st_uid == identity.uid:
        return bool(info.st_mode & (bit << 6))
    if info.st_gid == identity.gid:
        return bool(info.st_mode & (bit << 3))
    return bool(info.st_mode & bit)


def blockers(paths: list[Path], identity: Identity) -> list[Path]:
    """The outermost folders on the way to ``paths`` that ``identity`` cannot traverse."""
    found: set[Path] = set()
    for path in paths:
        for ancestor in reversed(path.parents):
            with contextlib.suppress(OSError):
                if not _searchable(os.stat(ancestor), identity, 1):
                    found.add(ancestor)
                    break
    return sorted(p for p in found if not any(q != p and p.is_relative_to(q) for q in found))


def plan(read_paths: list[str], *, temp: str | None = None) -> Plan:
    """Decide, once in the zygote, how workers drop privilege; make Python reachable if needed.

    Not root: nothing to drop to (the worker keeps the grader's own uid, no
    capabilities). Root: the configured identity, after a private mount
    namespace where it could not reach Python, or ``temp`` (the grader's
    temporary folder, where scratch folders are made), otherwise.
    """
    if os.geteuid() != 0:
        return Plan(None, "the grader is not root: workers run as its own user")
    last_capability()  # read once here, not in every worker's drop of the bounding set
    try:
        identity = configured_identity()
    except ValueError as exc:
        return Plan(None, f"{exc}; workers keep uid 0 without capabilities")
    paths = [Path(p) for p in read_paths] + ([Path(temp)] if temp else [])
    blocked = blockers(paths, identity)
    if not blocked:
        return Plan(identity)
    problem = _private_view(blocked, paths)
    where = ", ".join(map(str, blocked))
    if problem:
        return Plan(
            None,
            f"{identity.describe()} cannot traverse {where} to reach Python or scratch, and no private mount namespace "
            f"could be made ({problem}): workers keep uid 0 without capabilities",
        )
    return Plan(identity, f"{where} made traversable in the zygote's private mount namespace")


_original_namespace: int | None = None


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _private_view(blocked: list[Path], grants: list[Path]) -> str:
    """Cover each blocked folder with a read-only tmpfs holding only the granted trees; "" when done."""
    global _original_namespace
    if _libc is None:
        return "no C library"
    try:
        original = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        return exc.strerror or str(exc)
    try:
        ctypes.set_errno(0)
        _check(_libc.unshare(_CLONE_NEWNS), "unshare")
        # Private first, so nothing mounted here propagates back to the machine's namespace.
        _check(_libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
        for folder in blocked:
            _cover(folder, [g for g in grants if g.exists() and g.is_relative_to(folder)])
    except OSError as exc:
        os.close(original)
        return exc.strerror or str(exc)
    _original_namespace = original
    return ""


def _cover(folder: Path, grants: list[Path]) -> None:
    assert _libc is not None
    outermost = [g for g in sorted(grants) if not any(o != g and g.is_relative_to(o) for o in grants)]
    sources = {g: os.open(g, os.O_PATH | os.O_CLOEXEC) for g in outermost}  # before the tmpfs hides them
    try:
        options = b"mode=755,size=1m"
        flags = _MS_NOSUID | _MS_NODEV
        _check(_libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", flags, options), f"tmpfs on {folder}")
        for grant, fd in sources.items():
            for step in reversed(grant.parents):
                if step.is_relative_to(folder) and step != folder and not step.exists():
                    step.mkdir(mode=0o755)
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                grant.mkdir(mode=0o755)
            else:
                grant.touch(mode=0o644)
            source = f"/proc/self/fd/{fd}".encode()
            _check(_libc.mount(source, str(grant).encode(), None, _MS_BIND | _MS_REC, None), f"bind {grant}")
        remount = flags | _MS_REMOUNT | _MS_RDONLY
        _check(_libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", remount, options), f"read-only {folder}")
    finally:
        for fd in sources.values():
            os.close(fd)


def leave_private_view() -> None:
    """In a grading process forked by the zygote: back to the machine's mount namespace (its own files)."""
    global _original_namespace
    if _original_namespace is None or _libc is None:
        return
    cwd = os.getcwd()
    ctypes.set_errno(0)
    _check(_libc.setns(_original_namespace, _CLONE_NEWNS), "setns")
    os.close(_original_namespace)
    _original_namespace = None
    os.chdir(cwd)


def close_original_namespace() -> None:
    """In a worker: it never goes back."""
    global _original_namespace
    if _original_namespace is not None:
        with contextlib.suppress(OSError):
            os.close(_original_namespace)
        _original_namespace = None


# -- the worker ---------------------------------------------------------------------------


def _arch_table(table: dict[str, int]) -> int | None:
    machine = platform.machine().lower()
    return table.get({"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine))


def capabilities() -> tuple[int, int, int] | None:
    """This process's (effective, permitted, inheritable) capability masks, None when unknown."""
    number = _arch_table(_CAPGET)
    if _libc is None or number is None:
        return None
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if _libc.syscall(ctypes.c_long(number), ctypes.byref(header), ctypes.byref(data)) != 0:
        return None
    low, high = data[0], data[1]
    return (
        low.effective | high.effective << 32,
        low.permitted | high.permitted << 32,
        low.inheritable | high.inheritable << 32,
    )


def _clear_capabilities() -> None:
    number = _arch_table(_CAPSET)
    assert _libc is not None and number is not None
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    ctypes.set_errno(0)
    _check(int(_libc.syscall(ctypes.c_long(number), ctypes.byref(header), ctypes.byref(data))), "capset")


def _status_lines(*names: str) -> dict[str, str]:
    """Fields of /proc/self/status, "?" for those it lacks (one read for all)."""
    found = dict.fromkeys(names, "?")
    with contextlib.suppress(OSError):
        fd = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
        try:
            text = os.read(fd, 65536).decode("ascii", "replace")
        finally:
            os.close(fd)
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name in found:
                found[name] = value.strip()
    return found


@functools.cache
def last_capability() -> int:
    """The highest capability number this kernel knows; read once (the zygote reads it before forking)."""
    try:
        return int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    except (OSError, ValueError):
        return 63


def drop(chosen: Plan, *, owned: list[Path]) -> tuple[str | None, str]:
    """Drop every privilege of this (single-threaded, freshly forked) worker.

    Returns the layer it reached ("unprivileged", or "no-capabilities" when it
    had to stay uid 0; None when dropping failed) and a description.

    ``owned`` (scratch and what the worker made in it) is handed to the new
    identity first, so the worker can write there and nowhere else.
    """
    if _libc is None or _arch_table(_CAPSET) is None:
        return None, "no C library or unknown architecture: privileges not dropped"
    zero = ctypes.c_ulong(0)
    root = os.geteuid() == 0
    identity = chosen.identity if root else None
    try:
        if identity is not None:
            for path in owned:
                os.chown(path, identity.uid, identity.gid, follow_symlinks=False)
        if root:
            for cap in range(last_capability() + 1):
                ctypes.set_errno(0)
                _check(_libc.prctl(ctypes.c_int(_PR_CAPBSET_DROP), ctypes.c_ulong(cap), zero, zero, zero), "bounding")
            _check(
                _libc.prctl(ctypes.c_int(_PR_SET_SECUREBITS), ctypes.c_ulong(_SECUREBITS), zero, zero, zero),
                "securebits",
            )
        ctypes.set_errno(0)
        _libc.prctl(ctypes.c_int(_PR_CAP_AMBIENT), ctypes.c_ulong(_PR_CAP_AMBIENT_CLEAR_ALL), zero, zero, zero)
        if identity is not None:
            os.setgroups([])
            os.setresgid(identity.gid, identity.gid, identity.gid)
            os.setresuid(identity.uid, identity.uid, identity.uid)
        _clear_capabilities()
    except OSError as exc:
        return None, f"could not drop privileges: {exc}"
    if (code := set_no_new_privs()) != 0:
        return None, f"could not set no_new_privs: {os.strerror(code)}"
    caps = capabilities()
    status = _status_lines("CapAmb", "CapBnd")
    if caps is None or any(caps) or status["CapAmb"].strip("0") or (root and status["CapBnd"].strip("0")):
        return None, f"capabilities remain (effective, permitted, inheritable: {caps})"
    uid, gid = os.getuid(), os.getgid()
    parts = [f"uid {uid}, gid {gid}" + (", no supplementary groups" if identity else "")]
    if root:
        parts.append("no capabilities (effective, permitted, inheritable, ambient and bounding sets empty)")
        parts.append("securebits locked")
    else:
        parts.append("no capabilities (effective, permitted, inheritable and ambient sets empty)")
    parts.append("no_new_privs")
    if chosen.note:
        parts.append(chosen.note)
    return ("unprivileged" if uid != 0 else "no-capabilities"), "; ".join(parts)
