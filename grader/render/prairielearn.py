"""PrairieLearn's external-grader ``results.json``, per its "External Grading" page.

Fields, all documented there: ``gradable``, ``score`` (the fraction of the
points, in [0, 1]), ``message``, ``output``, ``tests`` (each with ``name``,
``description``, ``points``, ``max_points``, ``message`` and ``output``,
which ``<pl-external-grader-results>`` shows) and, when the submission is not
gradable, ``format_errors``. PrairieLearn marks a non-gradable submission
"invalid, not gradable": no points are awarded or lost and no attempt is used
up, which is right when the student handed in nothing the grader recognises
(a misnamed file, an unreadable notebook) and wrong for code that ran and
failed, which is graded like everywhere else. PrairieLearn turns ANSI colour
codes in messages and output into HTML; ``visible`` spells them out first so
student text cannot style the page.
"""

from __future__ import annotations

import json
from typing import Any

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import excerpt, redacted, visible
from grader.render.wording import failure_lines, points

OUTPUT_LINES = 50
#: PrairieLearn's limit on results.json. Within it, each test's output and
#: message are cut to the first of these (output, message) sizes that fits.
RESULTS_BYTES = 1_000_000
_BUDGETS = ((8000, 8000), (1000, 2000), (0, 500))


def _message(check: CheckResult) -> str:
    if check.outcome.ok:
        return ""
    return "\n".join([check.outcome.label.capitalize(), *failure_lines(check)])


def _test(check: CheckResult, *, output_chars: int, message_chars: int) -> dict[str, Any]:
    shown = redacted(check)  # a hidden check: name, points and verdict only
    output = excerpt(shown.output, max_lines=OUTPUT_LINES, max_chars=output_chars) if output_chars else ""
    return {
        "name": visible(f"{shown.function}: {shown.name}"),
        "description": visible(shown.description),
        "points": check.points,
        "max_points": check.max_points,
        "message": visible(excerpt(_message(shown), max_lines=OUTPUT_LINES, max_chars=message_chars)),
        "output": visible(output),
    }


def graded_anything(report: Report) -> bool:
    """Whether any of the student's functions was found: a check that ran, or a definition it located.

    Without one, every check is "not attempted" because the exercise files
    are missing or define none of the functions: there was nothing to grade.
    A stub that still raises ``NotImplementedError`` has a location, so an
    untouched hand-out is graded (zero), not refused.
    """
    return any(check.outcome is not Outcome.NOT_ATTEMPTED or check.location is not None for check in report.checks)


def _format_errors(report: Report) -> list[str]:
    """Why nothing was graded: the submission's own problems (an unreadable notebook), else what was expected."""
    if report.problems:
        return [visible(problem) for problem in report.problems]
    exercises = report.exercises()
    files = ", ".join(f"{exercise.name}.py" for exercise in exercises) or "the exercise files"
    example = f" (for example {exercises[0].functions[0]})" if exercises and exercises[0].functions else ""
    return [f"Nothing to grade: no file is named {files} and none defines the exercises' functions{example}."]


def _summary(report: Report) -> str:
    counts = ", ".join(f"{n} {outcome.label}" for outcome, n in report.counts().items() if n)
    return f"Score: {points(report.score)}/{points(report.max_score)} ({report.percent:.1f}%); {counts or 'no checks'}"


def render_prairielearn(report: Report) -> str:
    """Return the report as PrairieLearn's ``results.json``: the score as a fraction, one test per check."""
    if not graded_anything(report):
        # The score is still a number: PrairieLearn rejects results whose score is not.
        data = {"gradable": False, "score": 0.0, "format_errors": _format_errors(report), "tests": []}
        return json.dumps(data, indent=2, ensure_ascii=True) + "\n"
    for output_chars, message_chars in _BUDGETS:
        data = {
            "gradable": True,
            "score": min(1.0, report.score / report.max_score) if report.max_score else 0.0,
            "message": _summary(report),
            "output": visible(excerpt("\n".join(report.problems), max_lines=OUTPUT_LINES, max_chars=message_chars)),
            "tests": [
                _test(check, output_chars=output_chars, message_chars=message_chars)
                for exercise in report.exercises()
                for check in exercise.checks
            ],
        }
        text = json.dumps(data, indent=2, ensure_ascii=True) + "\n"
        if len(text) <= RESULTS_BYTES:  # ASCII: characters are bytes
            break
    return text
