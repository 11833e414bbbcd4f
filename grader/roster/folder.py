"""A clean class folder: each entry (a folder, a .py, a .ipynb or a .zip) is one student, named after it."""

from __future__ import annotations

from pathlib import Path

from grader.models import UnattributedFile
from grader.roster.model import Part, Reading, Student
from grader.roster.tree import entries, is_special, relative

NAME = "folder"
TITLE = "a folder per student"
SUBMISSION_SUFFIXES = (".zip", ".ipynb", ".py")


def read(root: Path) -> Reading:
    students: list[Student] = []
    unattributed: list[UnattributedFile] = []
    taken: set[str] = set()
    for path in entries(root):
        if path.is_symlink():
            unattributed.append(UnattributedFile(relative(path, root), "a symbolic link: not followed"))
            continue
        if is_special(path):
            unattributed.append(UnattributedFile(relative(path, root), "not a regular file, skipped"))
            continue
        if path.is_file() and path.suffix not in SUBMISSION_SUFFIXES:
            reason = "not a submission: each entry is a folder, a .py, a .ipynb or a .zip"
            unattributed.append(UnattributedFile(relative(path, root), reason))
            continue
        student = path.name
        for suffix in SUBMISSION_SUFFIXES:
            if path.is_file() and student.endswith(suffix) and len(student) > len(suffix):
                student = student[: -len(suffix)]
                break
        if student in taken:  # alice.py beside alice.ipynb: keep both, distinguishable
            student = path.name
        taken.add(student)
        students.append(Student(student, student, (Part("", path),), entry=True))
    return Reading(tuple(students), tuple(unattributed))
