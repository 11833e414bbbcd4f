"""The LMS gradebooks: each parsed back as CSV, in the columns that LMS's import reads."""

from __future__ import annotations

import csv
import io

import pytest

from grader.models import CheckResult, ClassReport, Outcome, Report
from grader.render.gradebook import GRADEBOOKS, render_gradebook, split_name

FORMULA = '=HYPERLINK("http://evil","x")'


def student(student_id: str, name: str, points: float, *, late: bool | None = None) -> Report:
    checks = (
        CheckResult("ex01", "f", "a", Outcome.PASSED if points >= 1 else Outcome.FAILED, min(points, 1.0), 1.0),
        CheckResult("ex01", "f", "b", Outcome.PASSED if points >= 2 else Outcome.FAILED, max(points - 1, 0.0), 1.5),
    )
    return Report(student_id, checks, assignment="Week 3", name=name, late=late)


def klass() -> ClassReport:
    reports = (
        student("1001", "Smith, Alice", 2.5, late=False),
        student("1002", "Bob Jones", 1.0, late=True),
        student("1003", FORMULA, 0.0),
        student("jdoe", "", 1.0),
    )
    return ClassReport("Week 3", reports, layout="canvas")


def rows(text: str) -> list[list[str]]:
    assert text.endswith("\r\n")
    return list(csv.reader(io.StringIO(text, newline="")))


def test_canvas_gradebook() -> None:
    table = rows(render_gradebook(klass(), "canvas"))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Week 3"]
    assert table[1] == ["Points Possible", "", "", "", "", "2.5"]
    assert table[2] == ["Smith, Alice", "1001", "", "", "", "2.5"]
    assert table[4][:2] == ["'" + FORMULA, "1003"]  # defused, never evaluated by a spreadsheet
    assert table[5][:2] == ["jdoe", "jdoe"]  # no display name: the id stands in
    column = rows(render_gradebook(klass(), "canvas", column="Week 3 (123456)"))[0][-1]
    assert column == "Week 3 (123456)"


def test_moodle_grading_worksheet() -> None:
    table = rows(render_gradebook(klass(), "moodle"))
    assert table[0] == ["Identifier", "Full name", "Grade", "Maximum Grade"]
    assert table[1] == ["Participant 1001", "Smith, Alice", "2.5", "2.5"]
    assert table[4] == ["jdoe", "jdoe", "1", "2.5"]


def test_blackboard_grade_center_upload() -> None:
    table = rows(render_gradebook(klass(), "blackboard"))
    assert table[0] == ["Last Name", "First Name", "Username", "Week 3 [Total Pts: 2.5 Score]"]
    assert table[1] == ["Smith", "Alice", "1001", "2.5"]
    assert table[2] == ["Jones", "Bob", "1002", "1"]
    assert rows(render_gradebook(klass(), "blackboard", column="HW |_12345_1"))[0][-1] == "HW |_12345_1"


def test_brightspace_grade_import() -> None:
    table = rows(render_gradebook(klass(), "brightspace"))
    header = ["OrgDefinedId", "Username", "Last Name", "First Name", "Week 3 Points Grade", "End-of-Line Indicator"]
    assert table[0] == header
    assert table[1] == ["1001", "", "Smith", "Alice", "2.5", "#"]
    assert all(row[-1] == "#" for row in table[1:])


def test_every_gradebook_defuses_formulas_and_unknown_ones_are_refused() -> None:
    for lms in GRADEBOOKS:
        text = render_gradebook(klass(), lms)
        for row in rows(text):
            assert not any(cell.lstrip(" ").startswith(("=", "+", "-", "@")) for cell in row), (lms, row)
    with pytest.raises(ValueError, match="unknown gradebook"):
        render_gradebook(klass(), "webct")


def test_split_name() -> None:
    assert split_name("Doe, Jane") == ("Doe", "Jane")
    assert split_name("Jane van Doe") == ("Doe", "Jane van")
    assert split_name("Cher") == ("Cher", "")
    assert split_name("") == ("", "")
