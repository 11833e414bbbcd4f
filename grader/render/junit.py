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

import functools
import re
from collections.abc import Sequence

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import excerpt, redacted, visible
from grader.render.wording import failure_lines, points

OUTPUT_LINES = 200
OUTPUT_CHARS = 16_000

_ERRORS = (Outcome.ERROR, Outcome.TIMEOUT)
_FAILURES = (Outcome.FAILED, Outcome.NOT_ATTEMPTED)


@functools.lru_cache(maxsize=8192)
def _xml(text: str) -> str:
    # Cached: a class's suites repeat the same names, outcomes and points
    # thousands of times, and this was a third of writing junit.xml.
    # ``visible`` leaves U+FFFE and U+FFFF (noncharacters, but not invisible
    # ones) alone; XML 1.0 forbids them, so a conforming parser would reject the file.
    return visible(text).replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def _seconds(value: float) -> str:
    return f"{value:.3f}"


_MARKUP = re.compile('[&<>"\n\r\t]')
_ATTRIBUTE_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _element(tag: str, attributes: dict[str, str], *, text: str | None = None, close: bool = True) -> str:
    """One element as text, its attributes and text escaped for XML (``_xml`` made them legal first)."""
    attrs = "".join(
        f' {name}="{value.translate(_ATTRIBUTE_ESCAPES) if _MARKUP.search(value) else value}"'
        for name, value in attributes.items()
    )
    if text is not None:
        return f"<{tag}{attrs}>{text.translate(_TEXT_ESCAPES)}</{tag}>"
    return f"<{tag}{attrs} />" if close else f"<{tag}{attrs}>"


def _properties(out: list[str], indent: str, properties: dict[str, str]) -> None:
    out.append(f"{indent}<properties>")
    for name, value in properties.items():
        out.append(indent + "  " + _element("property", {"name": name, "value": _xml(value)}))
    out.append(f"{indent}</properties>")


def _counts(checks: Sequence[CheckResult]) -> tuple[int, int, int, int]:
    """Tests, failures, errors and skipped among ``checks``, in one pass over them."""
    failures = errors = skipped = 0
    for check in checks:
        outcome = check.outcome
        if outcome in _FAILURES:
            failures += 1
        elif outcome in _ERRORS:
            errors += 1
        elif outcome is Outcome.DEFERRED:
            skipped += 1
    return len(checks), failures, errors, skipped


def _count_attributes(counts: Sequence[int]) -> dict[str, str]:
    return dict(zip(("tests", "failures", "errors", "skipped"), map(str, counts), strict=True))


@functools.lru_cache(maxsize=8192)
def _case_head(exercise: str, function: str, name: str) -> str:
    """A ``<testcase>`` start tag up to its time: a class repeats each check's names once per student."""
    attributes = {"classname": _xml(exercise), "name": _xml(f"{function}::{name}")}
    return "    " + _element("testcase", attributes, close=False).removesuffix(">")


@functools.lru_cache(maxsize=8192)
def _case_properties(earned: float, worth: float, outcome: Outcome, hidden: bool) -> str:
    """A case's ``<properties>`` lines: a class has few distinct ones, repeated for every student."""
    lines: list[str] = []
    properties = {
        "points": points(earned, 6),
        "max_points": points(worth, 6),
        "outcome": outcome.value,
        "hidden": "true" if hidden else "false",
    }
    _properties(lines, "      ", properties)
    return "\n".join(lines)


def _testcase(out: list[str], check: CheckResult) -> None:
    shown = redacted(check)
    out.append(f'{_case_head(check.exercise, check.function, check.name)} time="{_seconds(check.duration_s)}">')
    out.append(_case_properties(check.points, check.max_points, check.outcome, check.hidden))
    if check.outcome is Outcome.DEFERRED:
        # Not a verdict: a student's copy left this check to the teacher's grade.
        out.append("      " + _element("skipped", {"message": _xml(check.outcome.label)}))
    elif not check.outcome.ok:
        verdict = check.outcome.label
        body = failure_lines(shown)
        headline = (shown.message.split("\n", 1)[0] if shown.message else "") or verdict
        tag = "error" if check.outcome in _ERRORS else "failure"
        kind = "timeout" if check.outcome is Outcome.TIMEOUT else check.outcome.value
        text = _xml("\n".join(body) or f"{shown.function}::{shown.name} {verdict}")
        out.append("      " + _element(tag, {"message": _xml(headline), "type": kind}, text=text))
    if shown.output:
        text = _xml(excerpt(shown.output, max_lines=OUTPUT_LINES, max_chars=OUTPUT_CHARS))
        out.append("      " + _element("system-out", {}, text=text))
    out.append("    </testcase>")


def render_junit(reports: Report | Sequence[Report]) -> str:
    """Return JUnit XML for one report or a batch, each student a ``<testsuite>``.

    Written as text rather than through ElementTree, whose serializer made a
    200-student class's junit.xml cost 0.28 s instead of 0.17 s.
    """
    batch = (reports,) if isinstance(reports, Report) else tuple(reports)
    counts = [_counts(report.checks) for report in batch]
    names = {report.assignment for report in batch if report.assignment}
    totals = [sum(column) for column in zip(*counts, strict=True)] or [0, 0, 0, 0]
    root = {"name": _xml(names.pop() if len(names) == 1 else "grader"), **_count_attributes(totals)}
    root["time"] = _seconds(sum(report.duration_s for report in batch))
    out = ['<?xml version="1.0" encoding="utf-8"?>', _element("testsuites", root, close=False)]
    for report, suite_counts in zip(batch, counts, strict=True):
        suite = {"name": _xml(report.student), **_count_attributes(suite_counts), "time": _seconds(report.duration_s)}
        out.append("  " + _element("testsuite", suite, close=False))
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
        _properties(out, "    ", properties)
        for check in report.checks:
            _testcase(out, check)
        out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"
