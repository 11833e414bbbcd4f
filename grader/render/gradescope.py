"""Gradescope's ``results.json``, per its "Autograder Specifications" page.

Fields used, all documented there: top level ``score`` (overrides the sum
of the tests), ``execution_time`` (integer seconds), ``output`` with
``output_format``, ``visibility``, ``stdout_visibility`` and ``tests``; per
test ``score``, ``max_score``, ``status`` (``"passed"``/``"failed"``),
``name``, ``number``, ``output``, ``output_format``, ``tags`` and
``visibility``. The specification has no top-level ``max_score`` (the
assignment's total is set in Gradescope), so none is written. Every text is
``"text"`` format, which Gradescope shows without rendering HTML, markdown or
ANSI; ``visible`` still spells out control and bidi characters.
"""

from __future__ import annotations

import json
from typing import Any

from grader.models import CheckResult, Report
from grader.render.escape import excerpt, redacted, visible
from grader.render.wording import failure_lines, points

OUTPUT_LINES = 50
OUTPUT_CHARS = 8000

# Gradescope's visibility values are "visible", "hidden" (never shown to
# students), "after_due_date" and "after_published" (shown once the teacher
# publishes grades). A hidden check may show its name and verdict (principle 9)
# but should not tip students off while they can still resubmit, so it waits
# for publication; its output is dropped either way. Gradescope documents that
# students do not see their total score while any test is hidden from them.
HIDDEN_VISIBILITY = "after_published"


def _test_output(check: CheckResult) -> str:
    if check.outcome.ok:
        return check.description
    lines = failure_lines(check)
    if check.message:  # "Failed: <message>"; with no message, the verdict alone
        parts = [f"{check.outcome.label.capitalize()}: {lines[0]}", *lines[1:]]
    else:
        parts = [check.outcome.label, *lines]
    if check.output:
        parts.append("Output:\n" + excerpt(check.output, max_lines=OUTPUT_LINES, max_chars=OUTPUT_CHARS))
    return "\n\n".join(parts)


def _test(check: CheckResult, number: str) -> dict[str, Any]:
    shown = redacted(check)
    test: dict[str, Any] = {
        "name": visible(f"{shown.function}: {shown.description or shown.name}"),
        "number": number,
        "score": check.points,
        "max_score": check.max_points,
        "status": "passed" if check.outcome.ok else "failed",
        "tags": [visible(check.exercise), visible(check.function)],
    }
    if check.hidden:
        test["visibility"] = HIDDEN_VISIBILITY
    else:
        test["output"] = visible(_test_output(shown))
        test["output_format"] = "text"
        test["visibility"] = "visible"
    return test


def _summary(report: Report) -> str:
    counts = ", ".join(f"{n} {outcome.label}" for outcome, n in report.counts().items() if n)
    lines = [
        f"Score: {points(report.score)}/{points(report.max_score)} ({report.percent:.1f}%)",
        counts or "no checks",
    ]
    if report.problems:
        lines += ["", "Notes:"] + [f"- {problem}" for problem in report.problems]
    return visible("\n".join(lines))


def render_gradescope(report: Report) -> str:
    """Return the report as Gradescope's ``results.json``; tests are numbered exercise.check, from 1."""
    tests = [
        _test(check, f"{ex_index}.{check_index}")
        for ex_index, exercise in enumerate(report.exercises(), 1)
        for check_index, check in enumerate(exercise.checks, 1)
    ]
    data = {
        "score": report.score,
        "execution_time": round(report.duration_s),
        "output": _summary(report),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"
