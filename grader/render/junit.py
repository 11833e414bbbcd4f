"""JUnit XML: one ``<testsuite>`` per student, one ``<testcase>`` per check.

Outcomes map to JUnit results as follows:

- ``failed`` -> ``<failure type="failed">``;
- ``error`` and ``timeout`` -> ``<error type="error">`` / ``<error type="timeout">``:
  the student's code did not return, which JUnit calls an error;
- ``not_attempted`` -> ``<failure type="not_attempted">``, not ``<skipped>``:
  a missing function costs its points, and CI test viewers show skipped tests
  as neutral (GitLab, Jenkins and most GitHub reporters leave them out of the
  failure count), so a submission with nothing implemented would look green.
  The distinct ``type`` still lets a tool tell it apart.

Points live in ``<properties>`` (the suite's score and each case's points,
as pytest writes them for ``record_property``). XML 1.0 cannot carry most
control characters at all, so all text goes through ``visible`` first.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import excerpt, redacted, visible
from grader.render.wording import failure_lines, points

OUTPUT_LINES = 200
OUTPUT_CHARS = 16_000

_ERRORS = (Outcome.ERROR, Outcome.TIMEOUT)
_FAILURES = (Outcome.FAILED, Outcome.NOT_ATTEMPTED)


def _xml(text: str) -> str:
    # ``visible`` leaves U+FFFE and U+FFFF (noncharacters, but not invisible
    # ones) alone; XML 1.0 forbids them, so a conforming parser would reject the file.
    return visible(text).replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _add_properties(parent: ET.Element, properties: dict[str, str]) -> None:
    element = ET.SubElement(parent, "properties")
    for name, value in properties.items():
        ET.SubElement(element, "property", name=name, value=_xml(value))


def _counts(checks: Sequence[CheckResult]) -> dict[str, str]:
    return {
        "tests": str(len(checks)),
        "failures": str(sum(c.outcome in _FAILURES for c in checks)),
        "errors": str(sum(c.outcome in _ERRORS for c in checks)),
        "skipped": "0",
    }


def _testcase(suite: ET.Element, check: CheckResult) -> None:
    shown = redacted(check)
    case = ET.SubElement(
        suite,
        "testcase",
        classname=_xml(check.exercise),
        name=_xml(f"{check.function}::{check.name}"),
        time=_seconds(check.duration_s),
    )
    _add_properties(
        case,
        {
            "points": points(check.points, 6),
            "max_points": points(check.max_points, 6),
            "outcome": check.outcome.value,
            "hidden": "true" if check.hidden else "false",
        },
    )
    if not check.outcome.ok:
        verdict = check.outcome.label
        body = failure_lines(shown)
        headline = (shown.message.split("\n", 1)[0] if shown.message else "") or verdict
        tag = "error" if check.outcome in _ERRORS else "failure"
        kind = "timeout" if check.outcome is Outcome.TIMEOUT else check.outcome.value
        result = ET.SubElement(case, tag, message=_xml(headline), type=kind)
        result.text = _xml("\n".join(body) or f"{shown.function}::{shown.name} {verdict}")
    if shown.output:
        out = ET.SubElement(case, "system-out")
        out.text = _xml(excerpt(shown.output, max_lines=OUTPUT_LINES, max_chars=OUTPUT_CHARS))


def render_junit(reports: Report | Sequence[Report]) -> str:
    """Return JUnit XML for one report or a batch, each student a ``<testsuite>``."""
    batch = (reports,) if isinstance(reports, Report) else tuple(reports)
    every_check = [check for report in batch for check in report.checks]
    names = {report.assignment for report in batch if report.assignment}
    root = ET.Element("testsuites", name=_xml(names.pop() if len(names) == 1 else "grader"))
    root.attrib.update(_counts(every_check))
    root.set("time", _seconds(sum(report.duration_s for report in batch)))
    for report in batch:
        suite = ET.SubElement(root, "testsuite", name=_xml(report.student))
        suite.attrib.update(_counts(report.checks))
        suite.set("time", _seconds(report.duration_s))
        properties = {
            "score": points(report.score, 6),
            "max_score": points(report.max_score, 6),
            "percent": f"{report.percent:.2f}",
        }
        if report.assignment:
            properties["assignment"] = report.assignment
        if report.grader_version:
            properties["grader_version"] = report.grader_version
        for index, problem in enumerate(report.problems, 1):
            properties[f"problem_{index}"] = problem
        _add_properties(suite, properties)
        for check in report.checks:
            _testcase(suite, check)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
