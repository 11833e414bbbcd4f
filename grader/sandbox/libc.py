"""The C library, loaded once, for the system calls Python's ``os`` module does not offer.

Stdlib only, so it imports on any platform; ``LIBC`` is None where there is no
C library to call through, and every layer that needs it reports itself
unavailable rather than raising.
"""

from __future__ import annotations

import ctypes
import errno

__all__ = ["LIBC", "has_close_range", "set_no_new_privs"]

_PR_SET_NO_NEW_PRIVS = 38
_SYS_CLOSE_RANGE = 436  # the same number on x86_64 and aarch64

LIBC: ctypes.CDLL | None
try:
    LIBC = ctypes.CDLL(None, use_errno=True)
    LIBC.syscall.restype = ctypes.c_long
    LIBC.prctl.restype = ctypes.c_int
    LIBC.mount.restype = ctypes.c_int
    LIBC.unshare.restype = ctypes.c_int
    LIBC.setns.restype = ctypes.c_int
except (OSError, AttributeError):  # not glibc/musl
    LIBC = None


def set_no_new_privs() -> int:
    """Set no_new_privs, so no exec can ever gain privilege again; return 0 or the errno."""
    assert LIBC is not None
    ctypes.set_errno(0)
    zero = ctypes.c_ulong(0)
    if LIBC.prctl(ctypes.c_int(_PR_SET_NO_NEW_PRIVS), ctypes.c_ulong(1), zero, zero, zero) != 0:
        return ctypes.get_errno() or errno.EPERM
    return 0


def has_close_range() -> bool:
    """Whether ``close_range`` (Linux 5.9+) works here, so ``os.closerange`` is one call, not one per descriptor.

    Probed on a range that holds no descriptor (so it closes nothing).
    """
    if LIBC is None:
        return False
    unused = ctypes.c_long(2**31 - 2)
    return int(LIBC.syscall(ctypes.c_long(_SYS_CLOSE_RANGE), unused, unused, ctypes.c_long(0))) == 0
