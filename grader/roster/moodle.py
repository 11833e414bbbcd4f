"""Moodle's "Download all submissions": a folder per student and plugin, or (the older option) flat files.

Moodle's ``mod_assign\\downloader`` prefixes everything with
``clean_filename(<full name with "_" made " ">_<participant id>)``, then adds
``_assignsubmission_<plugin>`` (plus a trailing ``_`` before Moodle 4.1):
``Jane Doe_1234567_assignsubmission_file_/`` holds the student's files with
their own subfolders kept; the flat variant names each file
``Jane Doe_1234567_assignsubmission_file_<original name>``. Online text
(``assignsubmission_onlinetext``) is an HTML page, not code. Blind marking
names everyone "Participant"; team submissions use the group's name and id.
"""

from __future__ import annotations

import re
from pathlib import Path

from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student, safe_id
from grader.roster.tree import entries, match_entry, relative

NAME = "moodle"
TITLE = "Moodle"

_PREFIX = r"^(?P<name>.+?)(?:_(?P<id>\d+))?_assignsubmission_(?P<plugin>[a-z0-9]+)"
_FOLDER = re.compile(_PREFIX + r"_?$")
_FLAT = re.compile(_PREFIX + r"_(?P<original>.+)$", re.S)


def parse(path: Path) -> re.Match[str] | None:
    return match_entry(path, folder=_FOLDER, file=_FLAT)


def matches(path: Path) -> bool:
    return parse(path) is not None


def read(root: Path) -> Reading:
    unattributed: list[UnattributedFile] = []
    # (participant id, name) -> ...: two names under one id are two students (``model.separate`` reports them)
    parts: dict[tuple[str, str], list[Part]] = {}
    notes: dict[tuple[str, str], list[str]] = {}
    for path in entries(root):
        found = parse(path)
        if found is None:
            reason = "does not follow Moodle's <full name>_<participant id>_assignsubmission_<plugin> naming"
            unattributed.append(UnattributedFile(relative(path, root), reason))
            continue
        student = (found["id"] or found["name"], found["name"])
        parts.setdefault(student, [])
        plugin = found["plugin"]
        if plugin != "file":
            what = "online text" if plugin == "onlinetext" else f"a {plugin} entry"
            notes.setdefault(student, []).append(f"{path.name}: {what}, which is not code, so not graded")
            continue
        if path.is_dir():
            parts[student].append(Part("", path))
        else:
            original = found["original"]
            parts[student].append(Part("" if path.suffix.lower() == ".zip" else original, path))
    students = tuple(
        Student(safe_id(student[0]), student[1], tuple(found), None, tuple(notes.get(student, ())))
        for student, found in parts.items()
    )
    return Reading(students, tuple(unattributed))
