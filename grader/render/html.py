"""The HTML report card: one self-contained page, safe to open from any student's submission."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import excerpt, redacted, visible
from grader.render.feedback import feedback
from grader.render.wording import points

TEMPLATES = Path(__file__).parent / "templates"
OUTPUT_LINES = 200
OUTPUT_CHARS = 16_000


def _finalize(value: Any) -> Any:
    # Applied to every {{ expression }} before autoescaping, so a template that
    # forgets the ``visible`` filter still cannot emit a control or bidi character.
    # Markup is HTML a filter built on purpose; ``visible`` is idempotent otherwise.
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value)
    return value


@functools.cache
def environment() -> Environment:
    """Return the Jinja environment shared by every HTML template in ``templates/``.

    Autoescaping, strict undefined and the ``visible`` finalizer are set here,
    once, so other pages (the class overview) inherit the same edge escaping.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["visible"] = visible
    env.filters["points"] = points
    env.filters["outcome_label"] = lambda outcome: Outcome(outcome).label
    env.filters["excerpt"] = functools.partial(excerpt, max_lines=OUTPUT_LINES, max_chars=OUTPUT_CHARS)
    env.filters["redacted"] = redacted
    return env


def card_context(report: Report) -> dict[str, Any]:
    """What the report templates (the card, the inline Jupyter result) are given."""
    arranged = feedback(report)
    return {
        "report": report,
        "counts": {outcome: n for outcome, n in report.counts().items() if n},
        "percent": min(max(report.percent, 0.0), 100.0),
        "fixes": arranged.fixes,
        "anchors": arranged.anchors(),
        "unattempted": [(u.exercise, u.functions, u.points) for u in arranged.unattempted],
        "missing_checks": arranged.missing_checks,
        "missing_points": arranged.missing_points,
        "exercises": arranged.exercises,
        "titles": dict(report.exercise_titles),
    }


def _rows(checks: tuple[CheckResult, ...], anchors: dict[str, str]) -> Markup:
    """The "Every check" table's rows of one exercise, each check ``redacted`` first.

    Joined as they are: each is Markup that ``check_row`` rendered, escaped, through the template.
    """
    rows = []
    for raw in checks:
        check = redacted(raw)
        rows.append(
            check_row(
                anchors.get(check.id),
                check.description or check.name,
                bool(check.hidden),
                check.function,
                check.outcome.value,
                check.points,
                check.max_points,
            )
        )
    return Markup("".join(rows))


@functools.lru_cache(maxsize=8192)
def check_row(
    anchor: str | None, text: str, hidden: bool, function: str, outcome: str, earned: float, worth: float
) -> Markup:
    """One row of the table, rendered by ``_check_row.html.j2`` (autoescaped, through the finalizer).

    Cached: a class's cards repeat the same rows (a check, its verdict and points) for
    student after student, and rendering them cell by cell was most of a card's cost.
    The row is a function of these arguments alone; numbers that compare equal print
    the same, so the cache never hands one row for another.
    """
    macro = environment().get_template("_check_row.html.j2").module.check_row  # type: ignore[attr-defined]
    return Markup(macro(anchor, text, hidden, function, outcome, earned, worth))


def render_html(report: Report) -> str:
    """Return the report as a complete HTML5 page: what to fix first, then what is missing, then every check."""
    context = card_context(report)
    rows = {exercise.name: _rows(exercise.checks, context["anchors"]) for exercise in context["exercises"]}
    return environment().get_template("report.html.j2").render(**context, rows=rows)
