"""Scratch folders: where workers run, removed afterwards whatever a student did inside.

A round's folder asks the file system to spread the workers' folders in it
(``spread_subfolders``). On an ext4 file system without a journal, a new
file's inode is looked for past every inode freed in the last minutes in its
block group (the kernel's ``recently_deleted``): where workers' folders, or
anything else on the machine, had just been deleted by the thousand, each
worker's eight new files cost 1.2-3.3 ms of CPU (more, the more had been
deleted), against 0.7-0.9 ms in a folder spread to a quiet group
(``bench/scratch_churn.py``, two runs).
"""

from __future__ import annotations

import array
import fcntl
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any


def remove_tree(path: Path) -> None:
    """Delete a scratch folder whatever a student did to it (read-only or unlistable folders included)."""

    def make_writable(function: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            function(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable)


def make_root(prefix: str) -> Path:
    """A new folder for workers' scratch folders: traversable, not listable, by the workers' own uid.

    Workers of a root grader run as another uid (``privilege``): they must
    reach their own folder inside, and must not list it to find a classmate's.
    (A temporary folder beneath one they cannot traverse is made reachable in
    the zygote's private mount namespace, see ``privilege.plan``.)
    """
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o711)
    spread_subfolders(root)
    return root


#: ``FS_IOC_GETFLAGS`` and ``FS_IOC_SETFLAGS`` (linux/fs.h), and the flag ``chattr +T`` sets.
_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000


def spread_subfolders(folder: Path) -> bool:
    """Ask ext2/3/4 to put each subfolder of ``folder`` in a block group of its own choosing; whether it did.

    The flag (``chattr +T``, "the top of a directory hierarchy") makes the
    allocator place each new subfolder in a group with few folders, as it does
    for the file system's top-level folders, instead of in ``folder``'s own
    group. Only ``folder``'s owner may set it, on its own folder: elsewhere
    (another file system, no such flag) nothing changes and False is returned.
    """
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = array.array("I", [0])  # the kernel reads and writes an int, whatever the macro's "long" says
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        if not flags[0] & _FS_TOPDIR_FL:
            flags[0] |= _FS_TOPDIR_FL
            fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags, True)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
