"""Brightspace (D2L) assignment downloads: flat files, or a folder per submission, and an ``index.html``.

Each file is ``<submission id>-<user id> - <name> - <Mon D, YYYY HMM AM> - <original name>``
(the name as "Last, First" or "First Last", per the org's setting); newer
downloads put a submission's files in a folder named
``<submission id>-<user id> - <name> - <date>``. The second number stays the
same across a student's submissions, so it is the student's id; with several
dates, the latest submission is graded. ``index.html`` is Brightspace's own
listing of the download.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student, safe_id
from grader.roster.tree import entries, match_entry, relative

NAME = "brightspace"
TITLE = "Brightspace (D2L)"

_DATE = r"(?P<date>[A-Z][a-z]{2,8}\.? \d{1,2}, \d{4},? \d{1,2}:?\d{2}(?: ?[AaPp]\.?[Mm]\.?)?)"
_HEAD = rf"^(?P<submission>\d+)-(?P<id>\d+) - (?P<name>.+?) - {_DATE}"
_FILE = re.compile(_HEAD + r" - (?P<original>.+)$", re.S)
_FOLDER = re.compile(_HEAD + r"$")
#: Files Brightspace adds to every download.
LISTING = frozenset({"index.html"})


def parse(path: Path) -> re.Match[str] | None:
    return match_entry(path, folder=_FOLDER, file=_FILE)


def matches(path: Path) -> bool:
    return parse(path) is not None


def submitted_at(text: str) -> datetime.datetime | None:
    """``Jan 5, 2024 1125 PM`` (or ``Jan 5, 2024 11:25 PM``, or 24-hour) as a datetime; None if unreadable."""
    cleaned = re.sub(r"([AaPp])\.?\s*([Mm])\.?$", r" \1\2", text.replace(",", " ").replace(":", ""))
    month, day, year, clock, *meridiem = cleaned.replace(".", "").split()
    stamp = " ".join([month, day, year, clock.zfill(4), *meridiem])
    for fmt in ("%b %d %Y %I%M %p", "%B %d %Y %I%M %p") if meridiem else ("%b %d %Y %H%M", "%B %d %Y %H%M"):
        try:
            return datetime.datetime.strptime(stamp, fmt)
        except ValueError:
            continue
    return None


def read(root: Path) -> Reading:
    unattributed: list[UnattributedFile] = []
    found_entries: list[tuple[Path, re.Match[str]]] = []
    for path in entries(root):
        if path.name in LISTING and path.is_file():
            continue
        found = parse(path)
        if found is None:
            reason = "does not follow Brightspace's <id>-<id> - <name> - <date> - <file> naming"
            unattributed.append(UnattributedFile(relative(path, root), reason))
            continue
        found_entries.append((path, found))
    key = _student_number([found for _, found in found_entries])
    # (student number, name) -> submission time -> parts: two names under one number are two students
    submissions: dict[tuple[str, str], dict[tuple[datetime.datetime, str], list[Part]]] = {}
    for path, found in found_entries:
        student = (found[key], found["name"])
        when = (submitted_at(found["date"]) or datetime.datetime.min, found["date"])
        parts = submissions.setdefault(student, {}).setdefault(when, [])
        if path.is_dir() or path.suffix.lower() == ".zip":
            parts.append(Part("", path))
        else:
            parts.append(Part(found["original"], path))
    students = []
    for (number, name), by_time in submissions.items():
        latest = max(by_time)
        notes = tuple(
            f"submission of {when[1]}: an earlier submission, not graded" for when in sorted(by_time) if when != latest
        )
        students.append(Student(safe_id(number), name, tuple(by_time[latest]), None, notes))
    return Reading(tuple(students), tuple(unattributed))


def _student_number(found: list[re.Match[str]]) -> str:
    """Which of the two numbers names the student: the one that stays put across a student's submissions.

    A student who submitted at several dates shows it: the submission's
    number changes, theirs does not. Without such a student, the second.
    """
    votes = {"id": 0, "submission": 0}
    dates: dict[str, set[str]] = {}
    numbers: dict[str, dict[str, set[str]]] = {}
    for match in found:
        dates.setdefault(match["name"], set()).add(match["date"])
        for group in votes:
            numbers.setdefault(match["name"], {}).setdefault(group, set()).add(match[group])
    for name, seen in dates.items():
        if len(seen) > 1:
            for group in votes:
                votes[group] += len(numbers[name][group]) == 1
    return "submission" if votes["submission"] > votes["id"] else "id"
