"""The roster's records: who the students are and where their files lie, before anything is read."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.models import UnattributedFile

#: Characters that cannot appear in a student id, which names the student's report folder.
_UNSAFE_ID = re.compile(r"[/\\\x00-\x1f\x7f]")
#: File systems allow 255 bytes per name; an id this long is shortened (and kept distinct by a hash).
_MAX_ID_BYTES = 128


@dataclass(frozen=True)
class Part:
    """One piece of a student's submission: a file placed at ``where``, or a folder or .zip read whole.

    ``where`` is the file's original name with the LMS's prefix removed (a
    folder or .zip is read under it; '' is the submission's root).
    """

    where: str
    path: Path


@dataclass(frozen=True)
class Student:
    """One student of a class export: the LMS's id and display name, the late flag, their files."""

    id: str
    name: str
    parts: tuple[Part, ...]
    #: True or False where the export says (Canvas's ``LATE``), None where it does not.
    late: bool | None = None
    #: Notes for the student's report: older attempts not graded, text entries that are not code.
    notes: tuple[str, ...] = ()
    #: An entry of a clean class folder, read exactly as ``grader check`` reads a path.
    entry: bool = False


@dataclass(frozen=True)
class Reading:
    """What a layout's reader found in an export."""

    students: tuple[Student, ...]
    unattributed: tuple[UnattributedFile, ...] = ()


@dataclass(frozen=True)
class Roster:
    """A class as an LMS (or a teacher) laid it out, turned into students and their files."""

    layout: str
    title: str
    #: False when the layout was forced with ``--layout``.
    detected: bool
    students: tuple[Student, ...]
    unattributed: tuple[UnattributedFile, ...] = field(default=())
    #: Students the export could have merged, kept apart: one id under several names, one name under several ids.
    clashes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        """One line for the terminal: the layout, how it was chosen, what was found."""
        how = "detected" if self.detected else "forced with --layout"
        line = f"layout: {self.title} ({how}), {len(self.students)} student{'' if len(self.students) == 1 else 's'}"
        if self.unattributed:
            line += f"; {len(self.unattributed)} file(s) could not be attributed to a student (listed on the overview)"
        for clash in self.clashes:
            line += f"\n  kept apart: {clash}"
        return line


def safe_id(raw: str) -> str:
    """A student id usable as a folder name: no separators or control characters, never '.' or '..'."""
    cleaned = _UNSAFE_ID.sub("_", raw.strip())
    if cleaned in ("", ".", ".."):
        return "_" + cleaned
    if len(cleaned.encode("utf-8", "surrogateescape")) > _MAX_ID_BYTES:
        digest = hashlib.sha256(cleaned.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        return cleaned[: _MAX_ID_BYTES // 4] + "-" + digest
    return cleaned


def separate(students: tuple[Student, ...]) -> tuple[tuple[Student, ...], tuple[str, ...]]:
    """The students with unique ids (``distinct``), and a sentence for each identity the export confuses.

    An export that gives one id to two names, or one name to two ids, is
    telling of two people: merging them would grade one on the other's files
    and lose the other. Readers keep them apart (one student per id *and*
    name); this says so, for the terminal, the overview and results.json.
    """
    unique = distinct(students)
    by_id: dict[str, list[Student]] = {}
    by_name: dict[str, list[tuple[str, Student]]] = {}
    for raw, student in zip(students, unique, strict=True):
        by_id.setdefault(raw.id, []).append(student)
        if student.name != raw.id:  # a real display name, not the id standing in for one
            by_name.setdefault(student.name.casefold(), []).append((raw.id, student))
    clashes: list[str] = []
    for raw_id, group in by_id.items():
        if len({s.name for s in group}) > 1:
            graded = "; ".join(f"{s.name} as {s.id}" for s in group)
            clashes.append(f"the export gives the id {raw_id} to {len(group)} different names, graded apart: {graded}")
    for named in by_name.values():
        ids = list(dict.fromkeys(raw for raw, _ in named))
        if len(ids) > 1:
            clashes.append(
                f"the export gives the name {named[0][1].name} to {len(ids)} different ids, graded apart: "
                + ", ".join(s.id for _, s in named)
            )
    return unique, tuple(clashes)


def distinct(students: tuple[Student, ...]) -> tuple[Student, ...]:
    """The students with ids made unique: a later duplicate gets ``-2``, ``-3``, ... and a note saying so."""
    seen: set[str] = set()
    result = []
    for student in students:
        unique, number = student.id, 1
        while unique in seen:
            number += 1
            unique = f"{student.id}-{number}"
        seen.add(unique)
        if unique != student.id:
            note = f"the export names another student {student.id!r} too: graded as {unique!r}"
            student = replace(student, id=unique, notes=(*student.notes, note))
        result.append(student)
    return tuple(result)
