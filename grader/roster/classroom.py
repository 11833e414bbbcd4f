"""GitHub Classroom, as ``gh classroom clone student-repos`` writes it.

The command clones each student's repository into
``<assignment>-submissions/<assignment>-<login>/``: the student's login is
what follows the assignment's prefix. Each repository's ``.git`` (and any
other hidden folder) is never read as the student's work.
"""

from __future__ import annotations

import os
from pathlib import Path

from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student, safe_id
from grader.roster.tree import entries, relative

NAME = "classroom"
TITLE = "GitHub Classroom"
SUFFIX = "-submissions"


def _repositories(root: Path) -> list[Path]:
    return [p for p in entries(root) if p.is_dir() and not p.is_symlink()]


def _prefix(root: Path) -> str:
    """``<assignment>-``: from the ``<assignment>-submissions`` folder's name, else common to every repository."""
    if root.name.endswith(SUFFIX) and len(root.name) > len(SUFFIX):
        return root.name[: -len(SUFFIX)] + "-"
    names = [p.name for p in _repositories(root)]
    if len(names) < 2:
        return ""
    common = os.path.commonprefix(names)  # noqa: RUF071 - a prefix of names, not of paths
    return common[: common.rfind("-") + 1]


def matches(root: Path) -> bool:
    """An ``<assignment>-submissions`` folder, or clones sharing an ``<assignment>-`` prefix, each with ``.git``."""
    repositories = _repositories(root)
    prefix = _prefix(root)
    if not repositories or not prefix:
        return False
    ours = [p for p in repositories if p.name.startswith(prefix) and len(p.name) > len(prefix)]
    if root.name.endswith(SUFFIX):
        return 2 * len(ours) >= len(repositories)
    return len(ours) == len(repositories) and all((p / ".git").exists() for p in repositories)


def read(root: Path) -> Reading:
    prefix = _prefix(root)
    students: list[Student] = []
    unattributed: list[UnattributedFile] = []
    for path in entries(root):
        login = path.name[len(prefix) :] if path.name.startswith(prefix) else ""
        if not (path.is_dir() and not path.is_symlink() and login):
            reason = f"not a student's repository ({prefix or '<assignment>-'}<login>/)"
            unattributed.append(UnattributedFile(relative(path, root), reason))
            continue
        students.append(Student(safe_id(login), login, (Part("", path),)))
    return Reading(tuple(students), tuple(unattributed))
