"""The GitHub Classroom autograding result, as ``autograding-grading-reporter`` reads it.

What the reporter does (github-education-resources/autograding-grading-reporter,
``src/main.js``, ``src/notify-classroom.js``, ``src/aggregate-results.js``):
for each id in its ``runners`` input it reads the environment variable
``<ID upper-cased>_RESULTS``, base64-decodes it, and ``JSON.parse``s it. The
workflow passes a grader step's ``result`` output into that variable::

    - id: grader
      run: grader check . --format classroom   # appends result=<base64> to $GITHUB_OUTPUT
    - uses: classroom-resources/autograding-grading-reporter@v1
      env:
        GRADER_RESULTS: "${{ steps.grader.outputs.result }}"
      with:
        runners: grader

The JSON is the shape ``autograding-io-grader`` emits: ``{"version": 1,
"status": "pass"|"fail"|"error", "max_score": N, "tests": [{"name",
"status", "message", "line_no", "filename", "score"}]}``. The points GitHub
Classroom records are ``Points <sum of tests[].score>/<sum of max_score>``,
written by ``NotifyClassroom``: a runner with a falsy ``max_score`` is
skipped, and a test without ``score`` would make the total ``NaN``, so every
test carries one. The reporter's console table instead shows
``passed tests / tests * max_score``, which differs from the recorded points
when checks are worth different amounts or give partial credit. The job
fails when any runner's ``status`` is ``"fail"`` or ``"error"``.

The reporter prints every test's name and message to the log, where the
runner looks for workflow commands, so those strings are neutralised like
annotations. The value also travels as an environment variable, which Linux
caps at 128 KiB, so messages are cut short and captured output is left out.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import neutralize_commands, redacted, visible

MESSAGE_CHARS = 500

_STATUS = {
    Outcome.PASSED: "pass",
    Outcome.FAILED: "fail",
    Outcome.NOT_ATTEMPTED: "fail",
    Outcome.ERROR: "error",
    Outcome.TIMEOUT: "error",
    # Left to the teacher's grade: no points yet, and nothing for the job to fail on.
    Outcome.DEFERRED: "pass",
}


def _safe(text: str) -> str:
    return neutralize_commands(visible(text))


def _message(check: CheckResult) -> str:
    if check.outcome.ok:
        return ""
    text = check.message or check.outcome.label
    if check.hint:
        text += f"\nHint: {check.hint}"
    if len(text) > MESSAGE_CHARS:
        text = text[:MESSAGE_CHARS] + " ..."
    return _safe(text)


def _test(check: CheckResult) -> dict[str, Any]:
    shown = redacted(check)
    test: dict[str, Any] = {
        "name": _safe(f"{check.exercise}: {check.function}: {shown.description or check.name}"),
        "status": _STATUS[check.outcome],
        "message": _message(shown),
        "score": check.points,
    }
    if shown.location is not None:
        test["filename"] = _safe(shown.location.file)
        if shown.location.cell is None:
            test["line_no"] = shown.location.line
    return test


def classroom_result(report: Report) -> dict[str, Any]:
    """Return the result object before encoding, for callers that want to inspect it."""
    tests = [_test(check) for check in report.checks]
    statuses = {test["status"] for test in tests}
    status = "fail" if "fail" in statuses else "error" if "error" in statuses else "pass"
    return {"version": 1, "status": status, "max_score": report.max_score, "tests": tests}


def render_classroom(report: Report) -> str:
    """Return the base64 of the result JSON, the value of the ``result`` step output."""
    payload = json.dumps(classroom_result(report), ensure_ascii=True, separators=(",", ":"))
    return base64.b64encode(payload.encode("ascii")).decode("ascii")


def classroom_output_line(report: Report) -> str:
    """Return ``result=<base64>`` and a newline, ready to append to ``$GITHUB_OUTPUT``."""
    return f"result={render_classroom(report)}\n"
