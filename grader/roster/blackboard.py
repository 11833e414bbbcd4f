"""Blackboard Learn's "Download assignment": flat files and a receipt per attempt.

Each file is ``<assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<original name>``
and each attempt has a receipt ``<assignment>_<username>_attempt_<timestamp>.txt``
that starts ``Name: First Last (username)``, gives ``Date Submitted: ...``
and lists the files as ``Original filename: ...`` / ``Filename: ...`` pairs.
The receipt is what tells the username apart from an assignment name with
underscores in it. When a student has several attempts, the latest is graded
and the others are noted on their report.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from grader.bounds import MAX_METADATA_CHARS, Unreadable, metadata_text, read_regular
from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student, safe_id
from grader.roster.tree import entries, relative

NAME = "blackboard"
TITLE = "Blackboard Learn"

_TIMESTAMP = r"(?P<timestamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})"
_RECEIPT = re.compile(rf"^(?P<prefix>.+)_attempt_{_TIMESTAMP}\.txt$", re.S)
_FILE = re.compile(rf"^(?P<prefix>.+)_attempt_{_TIMESTAMP}(?P<rest>.*)$", re.S)
_NAME_LINE = re.compile(r"^\s*Name:\s*(?P<name>.*?)\s*\((?P<username>[^()]+)\)\s*$", re.M)
_ORIGINAL = re.compile(r"^\s*Original filename:\s*(?P<original>.+?)\s*$", re.M)
_FILENAME = re.compile(r"^\s*Filename:\s*(?P<filename>.+?)\s*$", re.M)
_RECEIPT_LIMIT = 1024 * 1024


@dataclass
class _Attempt:
    files: list[tuple[str, Path]] = field(default_factory=list)
    receipt: bool = False


def matches(path: Path) -> bool:
    return path.is_file() and _FILE.match(path.name) is not None


def _read_receipt(path: Path) -> str:
    try:
        return read_regular(path, limit=_RECEIPT_LIMIT, cut=True).decode("utf-8", errors="replace")
    except Unreadable:  # a receipt that is not a file: the attempt is read without it
        return ""


def read(root: Path) -> Reading:
    unattributed: list[UnattributedFile] = []
    receipts: dict[tuple[str, str], tuple[str, str]] = {}  # (prefix, timestamp) -> (username, display name)
    originals: dict[str, str] = {}  # file name as downloaded -> original name
    found_files: list[tuple[Path, re.Match[str]]] = []
    cut_names: set[str] = set()  # usernames whose receipt gives a name over MAX_METADATA_CHARS
    for path in entries(root):
        found = _FILE.match(path.name) if path.is_file() and not path.is_symlink() else None
        if found is None:
            reason = "does not follow Blackboard's <assignment>_<username>_attempt_<timestamp> naming"
            unattributed.append(UnattributedFile(relative(path, root), reason))
            continue
        receipt = _RECEIPT.match(path.name)
        if receipt:
            text = _read_receipt(path)
            person = _NAME_LINE.search(text)
            if person and receipt["prefix"].endswith("_" + person["username"]):
                name, cut = metadata_text(person["name"])
                receipts[receipt["prefix"], receipt["timestamp"]] = (person["username"], name)
                if cut:
                    cut_names.add(person["username"])
            downloaded = [m["filename"] for m in _FILENAME.finditer(text)]
            originals.update(zip(downloaded, (m["original"] for m in _ORIGINAL.finditer(text)), strict=False))
        found_files.append((path, found))
    assignments = {prefix[: -len(user) - 1] for (prefix, _), (user, _) in receipts.items()}
    if not assignments:  # no receipts: the assignment is what every file's name starts with
        prefixes = {found["prefix"] for _, found in found_files}
        common = os.path.commonprefix(sorted(prefixes))  # noqa: RUF071 - a prefix of names, not of paths
        if len(prefixes) > 1 and "_" in common:
            assignments = {common[: common.rfind("_")]}
    # (username, name on the receipt) -> timestamp -> attempt: two names under one username are two students
    attempts: dict[tuple[str, str], dict[str, _Attempt]] = {}
    named: dict[str, set[str]] = {}
    for username, name in receipts.values():
        if name:
            named.setdefault(username, set()).add(name)
    for path, found in found_files:
        prefix = found["prefix"]
        username, name = receipts.get((prefix, found["timestamp"])) or (_username(prefix, assignments), "")
        if not name and len(named.get(username, ())) == 1:  # an attempt without its receipt: the one name known
            (name,) = named[username]
        attempt = attempts.setdefault((username, name), {}).setdefault(found["timestamp"], _Attempt())
        if _RECEIPT.match(path.name):
            attempt.receipt = True
            continue
        rest = found["rest"]
        original = originals.get(path.name) or (rest[1:] if rest.startswith("_") else "submission" + rest)
        attempt.files.append((original, path))
    students = []
    for (username, name), by_time in attempts.items():
        latest = max(by_time)
        older = [stamp for stamp in sorted(by_time) if stamp != latest]
        notes = [f"attempt of {_shown(stamp)}: an earlier attempt, not graded" for stamp in older]
        if username in cut_names:
            notes.append(f"the export's name is over {MAX_METADATA_CHARS} characters: cut")
        if not by_time[latest].files:
            notes.append(f"attempt of {_shown(latest)}: no file was submitted")
        parts = tuple(
            Part("" if path.suffix.lower() == ".zip" else original, path)
            for original, path in sorted(by_time[latest].files)
        )
        students.append(Student(safe_id(username), name or username, parts, None, tuple(notes)))
    return Reading(tuple(students), tuple(unattributed))


def _username(prefix: str, assignments: set[str]) -> str:
    """The username in ``<assignment>_<username>``: after a known assignment name, else after the last '_'."""
    for assignment in sorted(assignments, key=len, reverse=True):
        if prefix.startswith(assignment + "_") and len(prefix) > len(assignment) + 1:
            return prefix[len(assignment) + 1 :]
    return prefix.rpartition("_")[2]


def _shown(stamp: str) -> str:
    """``2024-01-15-23-59-03`` as ``2024-01-15 23:59:03``."""
    return f"{stamp[:10]} {stamp[11:].replace('-', ':')}"
