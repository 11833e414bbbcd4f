"""The C library, loaded once, for the system calls Python's ``os`` module does not offer.

Stdlib only, so it imports on any platform; ``LIBC`` is None where there is no
C library to call through, and every layer that needs it reports itself
unavailable rather than raising.
"""

from __future__ import annotations

import ctypes
import errno

__all__ = ["LIBC", "set_no_new_privs"]

_PR_SET_NO_NEW_PRIVS = 38

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
