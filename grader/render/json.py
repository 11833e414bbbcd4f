"""The JSON report: ``Report.to_dict`` with hidden checks redacted."""

from __future__ import annotations

import json

from grader.models import Report
from grader.render.escape import redacted


def render_json(report: Report) -> str:
    """Return the report as indented JSON that ``Report.from_dict`` reads back.

    ``ensure_ascii`` escapes every non-ASCII character, so bidi overrides and
    lone surrogates travel as ``\\uXXXX`` and the file is safe to ``cat``; the
    json module escapes C0 controls and DEL either way. Hidden checks are
    redacted like in every other format: the score is unchanged.
    """
    data = report.to_dict()
    data["checks"] = [redacted(check).to_dict() for check in report.checks]
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"
