"""CSV exports: the class gradebook and one student's checks, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from grader.models import ClassReport, Report
from grader.render.escape import redacted, visible
from grader.render.overview import exercise_names, subtotals
from grader.render.wording import points

#: Leading characters that make Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DECIMALS = 4


def number(value: float, decimals: int = DECIMALS) -> str:
    """A spreadsheet number: ``12.5``, ``40``, ``0.3333`` (more decimals than on screen)."""
    return points(value, decimals)


def text_cell(value: str) -> str:
    """Return student-derived text as a cell a spreadsheet shows but never evaluates.

    Control and bidi characters are spelled out like everywhere else, then a
    leading ``'`` defuses ``=HYPERLINK(...)``-style formula injection; the
    apostrophe is what spreadsheets themselves use to mean "this is text".
    Leading blanks are looked through because some spreadsheets trim them.
    """
    shown = visible(value)
    if shown.startswith(FORMULA_STARTS) or shown.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + shown
    return shown


def write_rows(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerows(rows)
    return buffer.getvalue()


def render_grades_csv(report: ClassReport) -> str:
    """Return the class gradebook: one row per student, then a column of points per exercise.

    Exercise columns use the module names (stable identifiers for an import
    script) in assignment order; numbers are written plainly so a
    spreadsheet parses them as numbers. The LMS's ``id``, display ``name``
    and ``late`` flag come last, so the columns before them keep their places.
    """
    exercises = exercise_names(report)
    header = ["student", "score", "max_score", "percent", *(text_cell(e) for e in exercises), "id", "name", "late"]
    rows: list[Sequence[str]] = [header]
    for student in report.reports:
        rows.append(
            [
                text_cell(student.student),
                number(student.score),
                number(student.max_score),
                number(student.percent, 2),
                *(number(points) for points in subtotals(student, exercises)),
                text_cell(student.id),
                text_cell(student.display_name),
                flag(student.late),
            ]
        )
    return write_rows(rows)


def flag(value: bool | None) -> str:
    """``true``, ``false``, or empty where the export did not say."""
    return "" if value is None else str(value).lower()


def render_checks_csv(report: Report) -> str:
    """Return one student's checks, one row each; hidden checks keep only their name and verdict."""
    rows: list[Sequence[str]] = [["exercise", "function", "check", "outcome", "points", "max_points", "message"]]
    for raw in report.checks:
        check = redacted(raw)
        rows.append(
            [
                text_cell(check.exercise),
                text_cell(check.function),
                text_cell(check.name),
                check.outcome.value,
                number(check.points),
                number(check.max_points),
                text_cell(check.message),
            ]
        )
    return write_rows(rows)
