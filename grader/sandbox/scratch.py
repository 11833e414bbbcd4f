"""Scratch folders: where workers run, removed afterwards whatever a student did inside."""

from __future__ import annotations

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
    return root
