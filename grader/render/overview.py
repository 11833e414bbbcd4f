"""The teacher's class overview: one self-contained ``index.html`` next to the students' folders."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from grader.models import CheckStats, ClassReport, Outcome, Report
from grader.render.html import environment

BINS = 10
#: Drawing area of the score histogram, in SVG user units.
CHART_WIDTH = 640
CHART_HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 12, 20, 44
COMMON_REASONS = 10
#: A failure reason is a message's first line; a student's repr can make that line very long.
REASON_CHARS = 200
_OUTCOMES = {outcome.value for outcome in Outcome}


@dataclass(frozen=True)
class Bin:
    """One bar of the score histogram, with its geometry precomputed for the template."""

    low: int
    high: int
    count: int
    x: float
    y: float
    width: float
    height: float

    @property
    def label(self) -> str:
        return f"{self.low}\u2013{self.high}"

    @property
    def center(self) -> float:
        return round(self.x + self.width / 2, 2)


@dataclass(frozen=True)
class Reason:
    """A failure reason and how many students hit it, across every check it came from."""

    text: str
    count: int
    checks: tuple[str, ...]


def exercise_names(report: ClassReport) -> tuple[str, ...]:
    """Exercise module names in assignment order, then any exercise only the checks mention.

    A check whose exercise is missing from ``exercise_titles`` still earns
    points; dropping its column would make the subtotals not add up to the score.
    """
    names = dict.fromkeys(report.exercise_titles)
    for student in report.reports:
        names.update(dict.fromkeys(c.exercise for c in student.checks))
    return tuple(names)


def subtotals(student: Report, exercises: Sequence[str]) -> tuple[float, ...]:
    """The student's points per exercise, in ``exercises`` order (0 for an exercise without checks)."""
    return tuple(round(sum(c.points for c in student.checks if c.exercise == name), 6) for name in exercises)


def report_href(student: str) -> str:
    """The relative URL of a student's report card: ``<student>/report.html``, path segment quoted.

    Student ids are folder names, so undecodable bytes that ``os.fsdecode``
    turned into surrogates are encoded back to the same bytes; any other lone
    surrogate is percent-encoded as is rather than crashing the whole page.
    """
    try:
        raw = student.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = student.encode("utf-8", "surrogatepass")
    return f"{quote(raw, safe='')}/report.html"


def histogram(percents: Sequence[float]) -> tuple[Bin, ...]:
    """Ten bins of width 10 percent; 100 falls in the last one and out-of-range scores are clamped."""
    counts = [0] * BINS
    for percent in percents:
        counts[min(max(int(percent // (100 / BINS)), 0), BINS - 1)] += 1
    plot_w = CHART_WIDTH - _LEFT - _RIGHT
    plot_h = CHART_HEIGHT - _TOP - _BOTTOM
    slot = plot_w / BINS
    tallest = max(counts) or 1
    bins = []
    for i, count in enumerate(counts):
        height = round(plot_h * count / tallest, 2)
        bins.append(
            Bin(
                low=i * 100 // BINS,
                high=(i + 1) * 100 // BINS,
                count=count,
                x=round(_LEFT + i * slot + 4, 2),
                y=round(_TOP + plot_h - height, 2),
                width=round(slot - 8, 2),
                height=height,
            )
        )
    return tuple(bins)


def reason_text(reason: str, *, hidden: bool) -> str:
    """How a failure reason reads on the page: a hidden check's is only its outcome."""
    if hidden:
        label = Outcome(reason).label if reason in _OUTCOMES else reason
        return f"{label} (hidden check)"
    if len(reason) > REASON_CHARS:
        return reason[: REASON_CHARS - 3] + "..."
    return reason or "(no message)"


def absent_text(stats: CheckStats) -> str:
    """Why the students who did not hand a function in are counted apart: "4 not submitted, 1 stub left"."""
    parts = []
    if stats.not_submitted:
        parts.append(f"{stats.not_submitted} not submitted")
    if stats.not_attempted:
        parts.append(f"{stats.not_attempted} not attempted")
    return ", ".join(parts)


def common_reasons(stats: Sequence[CheckStats]) -> tuple[Reason, ...]:
    """The class-wide failure reasons: each check's top reasons summed by text, most frequent first."""
    counts: dict[str, int] = {}
    where: dict[str, list[str]] = {}
    for stat in stats:
        for reason, n in stat.reasons:
            text = reason_text(reason, hidden=stat.hidden)
            counts[text] = counts.get(text, 0) + n
            where.setdefault(text, []).append(stat.name)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:COMMON_REASONS]
    return tuple(Reason(text, n, tuple(dict.fromkeys(where[text]))) for text, n in ranked)


def render_overview(report: ClassReport) -> str:
    """Return the class overview as a complete HTML5 page (the teacher's ``index.html``).

    Everything is computed here and handed to the template as plain values,
    so the template only lays out; every string still passes through the
    shared environment's ``visible`` finalizer and autoescaping.
    """
    exercises = exercise_names(report)
    percents = [min(max(r.percent, 0.0), 100.0) for r in report.reports]
    graded = {r.student for r in report.reports}
    flagged = {name for pair in report.similar for name in (pair.first, pair.second)}
    bins = histogram(percents)
    stats = report.check_stats()
    students = [
        {
            "report": r,
            "href": report_href(r.student),
            "subtotals": subtotals(r, exercises),
            "similar": r.student in flagged,
        }
        for r in report.reports
    ]
    checks = [
        {
            "stats": s,
            "hidden": s.hidden,
            "reasons": [(reason_text(text, hidden=s.hidden), n) for text, n in s.reasons],
            "absent": absent_text(s),
        }
        for s in stats
    ]
    titles = {name: report.exercise_titles.get(name, name) for name in exercises}
    similar = [
        {
            "students": [(name, report_href(name) if name in graded else None) for name in (pair.first, pair.second)],
            "similarity": pair.similarity,
            "exercises": [report.exercise_titles.get(name, name) for name in pair.exercises],
        }
        for pair in report.similar
    ]
    return (
        environment()
        .get_template("overview.html.j2")
        .render(
            report=report,
            titles=titles,
            exercises=exercises,
            students=students,
            mean=statistics.fmean(percents) if percents else 0.0,
            median=statistics.median(percents) if percents else 0.0,
            bins=bins,
            chart={
                "width": CHART_WIDTH,
                "height": CHART_HEIGHT,
                "left": _LEFT,
                "right": CHART_WIDTH - _RIGHT,
                "top": _TOP,
                "baseline": CHART_HEIGHT - _BOTTOM,
                "tallest": max(b.count for b in bins),
                "label": f"Score distribution of {len(percents)} students, in percent: "
                + ", ".join(f"{b.label}: {b.count}" for b in bins),
            },
            checks=checks,
            reasons=common_reasons(stats),
            similar=similar,
        )
    )
