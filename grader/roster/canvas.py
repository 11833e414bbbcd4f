"""Canvas "Download Submissions": one flat folder of prefixed files.

Canvas's ``ContentZipper`` names each file
``<sortable name>[_LATE]_<user id>_<attachment id>_<original name>``: the
sortable name lower-cased with every non-word character removed ("Doe, John"
becomes ``doejohn``) and any ``_<digits>_`` inside it collapsed, so the first
``_<digits>_`` is the user id. Under anonymous grading the name is left out
and the id is ``anon_<anonymous id>``. Text entries and website URLs come as
``<prefix>_text.html`` and ``<prefix>_link.html``. A file uploaded again gets
``-1``, ``-2``, ... (or ``-<uuid>``) before its extension, so of
``ex05_activations.py`` and ``ex05_activations-1.py`` the second is the latest.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student, safe_id
from grader.roster.tree import entries, relative

NAME = "canvas"
TITLE = "Canvas"

_ID = r"(?P<id>\d+)"
_ANON = r"(?P<id>anon_[A-Za-z0-9]+)"
_PATTERNS = (
    re.compile(rf"^(?P<late>LATE_)?{_ANON}_(?P<attachment>\d+)_(?P<original>.+)$", re.S),
    re.compile(rf"^(?P<late>LATE_)?{_ANON}_(?P<kind>text|link)\.html$"),
    re.compile(rf"^(?P<name>.+?)_(?P<late>LATE_)?{_ID}_(?P<attachment>\d+)_(?P<original>.+)$", re.S),
    re.compile(rf"^(?P<name>.+?)_(?P<late>LATE_)?{_ID}_(?P<kind>text|link)\.html$"),
)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_REUPLOAD = re.compile(rf"^(?P<stem>.+)-(?P<n>\d+|{_UUID})(?P<ext>\.[^.]+)?$")
_KINDS = {"text": "a text entry", "link": "a website URL"}


def parse(filename: str) -> re.Match[str] | None:
    for pattern in _PATTERNS:
        found = pattern.match(filename)
        if found:
            return found
    return None


def matches(path: Path) -> bool:
    return path.is_file() and parse(path.name) is not None


def original_name(name: str) -> tuple[str, int]:
    """The file's name before Canvas made it unique, and how many uploads came before (-1 -> 1)."""
    found = _REUPLOAD.match(name)
    if not found:
        return name, 0
    number = found["n"]
    return found["stem"] + (found["ext"] or ""), int(number) if number.isdigit() else 1


def read(root: Path) -> Reading:
    unattributed: list[UnattributedFile] = []
    # (user id, name) -> ...: two names under one id are two students (``model.separate`` reports them)
    late: dict[tuple[str, str], bool] = {}
    # student -> original name -> (upload number, attachment id, path, name as downloaded)
    files: dict[tuple[str, str], dict[str, list[tuple[int, int, Path, str]]]] = {}
    notes: dict[tuple[str, str], list[str]] = {}
    for path in entries(root):
        found = parse(path.name) if path.is_file() and not path.is_symlink() else None
        if found is None:
            reason = "does not follow Canvas's <name>_<user id>_<attachment id>_<file> naming"
            unattributed.append(UnattributedFile(relative(path, root), reason))
            continue
        groups = found.groupdict()
        student = (found["id"], groups.get("name") or found["id"])
        late[student] = late.get(student, False) or bool(found["late"])
        files.setdefault(student, {})
        if groups.get("kind"):
            notes.setdefault(student, []).append(
                f"{path.name}: {_KINDS[found['kind']]}, which is not code, so not graded"
            )
            continue
        original, number = original_name(found["original"])
        files[student].setdefault(original, []).append((number, int(found["attachment"]), path, found["original"]))
    students = []
    for student, by_name in files.items():
        parts = []
        student_notes = notes.get(student, [])
        for original, versions in sorted(by_name.items()):
            versions.sort()
            *older, (_, _, path, latest) = versions
            where = "" if path.suffix.lower() == ".zip" else original
            parts.append(Part(where, path))
            for _, _, _, name in older:
                student_notes.append(f"{name}: an earlier upload, superseded by {latest}")
        user, name = student
        students.append(Student(safe_id(user), name, tuple(parts), late[student], tuple(student_notes)))
    return Reading(tuple(students), tuple(unattributed))
