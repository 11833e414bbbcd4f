"""Gradebook CSVs in the shape each LMS imports: the class's scores, keyed the way that LMS finds students.

- **Canvas** (Grades > Import): ``Student, ID, SIS User ID, SIS Login ID,
  Section`` and one column per assignment, a ``Points Possible`` row first.
  Canvas finds the student by ``ID`` (the user id of its download) and the
  assignment by the column's name, best written ``Name (assignment id)`` as
  Canvas exports it; an unknown name becomes a new assignment.
- **Moodle** (the assignment's "Upload grading worksheet", with offline
  grading on): ``Identifier, Full name, Grade, Maximum Grade``, the
  identifier ``Participant <id>`` being the participant id of Moodle's
  download. (Moodle's course-wide CSV import keys on user fields, such as
  the email or ID number, that the download does not carry.)
- **Blackboard Learn** (Grade Center > Work Offline > Upload): ``Last Name,
  First Name, Username`` and the column, ``<title> [Total Pts: <max> Score]``
  by default; a header ending in ``|<column id>`` (as the Grade Center's
  download writes it) updates that existing column.
- **Brightspace** (Grades > Import): ``OrgDefinedId, Username, Last Name,
  First Name, <item> Points Grade, End-of-Line Indicator``, rows ended by
  ``#``; the id goes in ``OrgDefinedId``.

Every student-derived cell is defused against formula injection as in
``grades.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.models import ClassReport, Report
from grader.render.csv import number, text_cell, write_rows

GRADEBOOKS = ("canvas", "moodle", "blackboard", "brightspace")


def render_gradebook(report: ClassReport, lms: str, *, column: str | None = None) -> str:
    """Return the class's gradebook for ``lms`` (one of ``GRADEBOOKS``); ``column`` names the grade column."""
    title = report.assignment or "Grader"
    maximum = max((r.max_score for r in report.reports), default=0.0)
    if lms == "canvas":
        return _canvas(report.reports, column or title, maximum)
    if lms == "moodle":
        return _moodle(report.reports, maximum)
    if lms == "blackboard":
        return _blackboard(report.reports, column or f"{title} [Total Pts: {number(maximum)} Score]")
    if lms == "brightspace":
        return _brightspace(report.reports, column or title)
    raise ValueError(f"unknown gradebook {lms!r}; choose from {', '.join(GRADEBOOKS)}")


def _canvas(reports: Sequence[Report], column: str, maximum: float) -> str:
    rows: list[Sequence[str]] = [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", text_cell(column)],
        ["Points Possible", "", "", "", "", number(maximum)],
    ]
    rows += [[text_cell(r.display_name), text_cell(r.id), "", "", "", number(r.score)] for r in reports]
    return write_rows(rows)


def _moodle(reports: Sequence[Report], maximum: float) -> str:
    rows: list[Sequence[str]] = [["Identifier", "Full name", "Grade", "Maximum Grade"]]
    for r in reports:
        identifier = f"Participant {r.id}" if r.id.isdigit() else r.id
        rows.append([text_cell(identifier), text_cell(r.display_name), number(r.score), number(maximum)])
    return write_rows(rows)


def _blackboard(reports: Sequence[Report], column: str) -> str:
    rows: list[Sequence[str]] = [["Last Name", "First Name", "Username", text_cell(column)]]
    for r in reports:
        last, first = split_name(r.name)
        rows.append([text_cell(last), text_cell(first), text_cell(r.id), number(r.score)])
    return write_rows(rows)


def _brightspace(reports: Sequence[Report], item: str) -> str:
    header = ["OrgDefinedId", "Username", "Last Name", "First Name", text_cell(f"{item} Points Grade")]
    rows: list[Sequence[str]] = [[*header, "End-of-Line Indicator"]]
    for r in reports:
        last, first = split_name(r.name)
        rows.append([text_cell(r.id), "", text_cell(last), text_cell(first), number(r.score), "#"])
    return write_rows(rows)


def split_name(name: str) -> tuple[str, str]:
    """(last, first) from ``Last, First`` or ``First Middle Last``; ("", "") when there is no name."""
    if "," in name:
        last, _, first = name.partition(",")
        return last.strip(), first.strip()
    first, _, last = name.strip().rpartition(" ")
    return (last, first) if first else (name.strip(), "")
