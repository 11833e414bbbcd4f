"""Autolab's autograder output: the text report, then the JSON autoresult as the last line.

Autolab shows everything an autograder prints as the student's feedback and
reads its score from the last line, a JSON *autoresult* (its "Guide for Lab
Authors"): ``{"scores": {problem: points, ...}, "scoreboard": [...]}``. The
``scores`` keys must be the names of the problems defined for the assessment
on the Autolab site, and a key that names no problem is logged but never
reaches the gradebook. The grader gives one score per exercise, keyed by the
exercise's module name (``ex05_activations``), so the teacher defines one
problem per exercise under that name, with the exercise's points (``grader
list``) as its maximum. ``scoreboard`` is the total followed by each
exercise's points, in assignment order: the columns of a scoreboard set up as
``Total``, then one column per exercise.
"""

from __future__ import annotations

import json

from grader.models import Report
from grader.render.text import render_text


def autoresult(report: Report) -> dict[str, object]:
    """The autoresult: each exercise's points by exercise name, and the scoreboard row."""
    scores = {exercise.name: round(exercise.score, 6) for exercise in report.exercises()}
    return {"scores": scores, "scoreboard": [report.score, *scores.values()]}


def render_autolab(report: Report) -> str:
    """Return the plain text report followed by the autoresult on one last line."""
    # The text report already escapes student text; the names in the JSON are module names.
    line = json.dumps(autoresult(report), ensure_ascii=True, separators=(", ", ": "))
    return render_text(report).rstrip("\n") + "\n\n" + line + "\n"
