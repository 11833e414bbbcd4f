"""Scratch folders: a round's folder spreads its workers' folders over the file system (``scratch.make_root``)."""

from __future__ import annotations

import array
import fcntl
import os
import stat
import tempfile
from pathlib import Path

import pytest

from grader.sandbox import scratch
from grader.sandbox.scratch import make_root, remove_tree, spread_subfolders


def _flags(folder: Path) -> int | None:
    """The folder's inode flags (``lsattr``), or None where its file system keeps none."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("I", [0])
        fcntl.ioctl(fd, scratch._FS_IOC_GETFLAGS, flags, True)
        return flags[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def test_a_rounds_folder_asks_for_its_workers_folders_to_be_spread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On ext4 without a journal, a new inode is looked for past every inode freed in the last minutes in
    # its group: the round's folder is flagged like a top-level folder ("chattr +T"), so that each worker's
    # folder goes to a group of its own choosing rather than to the group of /tmp, where the machine churns.
    if _flags(tmp_path) is None:
        pytest.skip("this file system keeps no inode flags")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    root = make_root("round-")
    try:
        assert root.parent == tmp_path
        assert stat.S_IMODE(root.stat().st_mode) == 0o711  # still traversable, not listable, by the workers
        assert _flags(root) & scratch._FS_TOPDIR_FL
        # Asking again changes nothing, and the flag leaves the folder's other flags as they were.
        before = _flags(root)
        assert spread_subfolders(root)
        assert _flags(root) == before
        worker = Path(tempfile.mkdtemp(prefix="w-", dir=root))
        (worker / "src").mkdir()
        (worker / "src" / "ex01.py").write_text("x = 1\n")
        assert not _flags(worker) & scratch._FS_TOPDIR_FL  # the flag is the round's, not inherited
    finally:
        remove_tree(root)
    assert not root.exists()


def test_spreading_is_asked_only_of_a_folder_that_is_there(tmp_path: Path) -> None:
    assert not spread_subfolders(tmp_path / "missing")
    plain = tmp_path / "file"
    plain.write_text("")
    assert not spread_subfolders(plain)  # not a folder: refused, nothing changed
    assert plain.read_text() == ""
