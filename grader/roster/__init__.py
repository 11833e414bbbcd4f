"""Where a class comes from: a folder, a zip or an LMS's bulk download becomes students and their files.

One small reader per layout (``folder``, ``canvas``, ``moodle``,
``blackboard``, ``brightspace``, ``gradescope``, ``classroom``) turns an
export into ``Student`` records: the LMS's id and display name, the late
flag where the export gives one, and the student's files under their
original names. ``open_roster`` detects the layout (or takes the one
forced), and lists every file it could not attribute to a student instead
of grading it as a student of its own. Nothing here runs student code.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from grader.assignment import Assignment
from grader.errors import SubmissionError, UsageError
from grader.models import UnattributedFile
from grader.roster import blackboard, brightspace, canvas, classroom, folder, gradescope, moodle
from grader.roster.model import Part, Reading, Roster, Student, separate
from grader.roster.tree import entries, extract_class, single_folder
from grader.submission import Submission, parse_submission, read_files, read_parts, unreadable_reason

#: Every layout by its ``--layout`` name.
LAYOUTS: dict[str, ModuleType] = {
    module.NAME: module for module in (folder, canvas, moodle, blackboard, brightspace, gradescope, classroom)
}
#: The flat and per-student-folder LMS layouts, recognised by how their entries are named.
_NAMED = (canvas, moodle, blackboard, brightspace)

__all__ = [
    "LAYOUTS",
    "Part",
    "Reading",
    "Roster",
    "Student",
    "detect_layout",
    "open_roster",
    "parse_submission",
    "read_student_files",
    "read_submission",
]


def detect_layout(root: Path) -> str:
    """The layout of the export in ``root``: the one most of its entries are named after, else ``folder``."""
    if gradescope.matches(root):
        return gradescope.NAME
    if classroom.matches(root):
        return classroom.NAME
    children = [p for p in entries(root) if p.name not in brightspace.LISTING]
    best, count = folder.NAME, 0
    for module in _NAMED:
        matching = sum(1 for path in children if module.matches(path))
        if matching > count:
            best, count = module.NAME, matching
    return best if count and 2 * count >= len(children) else folder.NAME


@contextmanager
def open_roster(source: Path, *, layout: str | None = None) -> Iterator[Roster]:
    """The students of ``source`` (a folder or a .zip), valid inside the ``with``: a zip is extracted meanwhile.

    ``layout`` forces a layout (a name of ``LAYOUTS``); by default it is
    detected. An export holding only one folder is that folder.
    """
    if layout is not None and layout not in LAYOUTS:
        raise UsageError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    if not source.exists():
        raise UsageError(f"{source} does not exist")
    archive = source.is_file() and source.suffix.lower() == ".zip"
    if not archive and not source.is_dir():
        raise UsageError(f"{source}: a class is a folder (or a .zip) with one entry per student, or an LMS export")
    with contextlib.ExitStack() as stack:
        skipped: list[UnattributedFile] = []
        root = source
        if archive:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="grader-class-"))) / "class"
            skipped = extract_class(source, root)
            root = single_folder(root) or root
        else:
            inner = single_folder(root)
            if inner is not None and (layout or detect_layout(inner)) != folder.NAME:
                root = inner
        chosen = layout or detect_layout(root)
        module = LAYOUTS[chosen]
        reading: Reading = module.read(root)
        unattributed = (*skipped, *reading.unattributed)
        if not reading.students:
            shown = ", ".join(item.path for item in unattributed[:3])
            detail = f"; {len(unattributed)} file(s) could not be attributed to a student ({shown}...)" if shown else ""
            raise UsageError(f"{source} holds no submissions as {module.TITLE}{detail}")
        students, clashes = separate(reading.students)
        if chosen != folder.NAME:  # a folder's order is its entries'; an export's, by name as the LMS lists it
            students = tuple(sorted(students, key=lambda s: (s.name.casefold(), s.id)))
        yield Roster(chosen, module.TITLE, layout is None, students, unattributed, clashes)


def read_student_files(student: Student) -> tuple[dict[str, bytes], list[str]]:
    """The student's raw files and the problems met reading them, never an exception.

    Cheap next to parsing them (``build_submission``): a batch reads every
    student this way to tell who changed, and parses only those.
    """
    try:
        if student.entry:
            raw, problems = read_files(student.parts[0].path)
            return raw, [*student.notes, *problems]
        return read_parts([(part.where, part.path) for part in student.parts], problems=student.notes)
    except SubmissionError as exc:
        return {}, [*student.notes, exc.message]
    except Exception as exc:  # noqa: BLE001 - whatever one student's files raise is their reason, not the class's
        return {}, [*student.notes, unreadable_reason(exc)]


def read_submission(student: Student, assignment: Assignment) -> Submission:
    """The student's submission; an unreadable one becomes an empty one with the reason, never an exception."""
    raw, problems = read_student_files(student)
    return parse_submission(raw, assignment, name=student.id, problems=problems)
