"""The teacher's class overview: self-contained pages next to the students' folders.

``index.html`` holds the summary, the score distribution, the checks, the
first page of students and the largest clusters of similar submissions; a
large class's further students are on ``students-2.html``, ``students-3.html``
and so on, and every cluster, every member listed, on ``similar.html``. Each
page stays small enough to open at once however large the class, and every
student is one click from the overview; ``results.json`` holds everything.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from grader.models import CheckStats, ClassReport, Outcome, Report, SimilarCluster
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
#: Students per page: ``index.html`` lists the first ones, ``students-N.html`` the rest.
STUDENTS_PER_PAGE = 500
#: Clusters shown on ``index.html``, and members shown per cluster there; ``similar.html`` shows all.
CLUSTERS_SHOWN = 20
MEMBERS_SHOWN = 30
SIMILAR_PAGE = "similar.html"


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
    sums = dict.fromkeys(exercises, 0.0)
    for check in student.checks:
        if check.exercise in sums:
            sums[check.exercise] += check.points
    return tuple(round(sums[name], 6) for name in exercises)


def student_page(number: int) -> str:
    """The file name of the ``number``-th page of students (1-based): the first is the overview itself."""
    return "index.html" if number == 1 else f"students-{number}.html"


def page_count(students: int) -> int:
    return max(1, -(-students // STUDENTS_PER_PAGE))


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
    """Return the class overview as a complete HTML5 page (the teacher's ``index.html``)."""
    return _Pages(report).overview()


def render_class_pages(report: ClassReport) -> dict[str, str]:
    """Every page of the overview by file name: ``index.html``, ``students-N.html``, ``similar.html``."""
    pages = _Pages(report)
    rendered = {"index.html": pages.overview()}
    for number in range(2, page_count(len(report.reports)) + 1):
        rendered[student_page(number)] = pages.students_page(number)
    rendered[SIMILAR_PAGE] = pages.similar_page()
    return rendered


class _Pages:
    """What the overview's pages share, computed once; each page only lays it out.

    Everything is handed to the templates as plain values, so they only lay
    out; every string still passes through the shared environment's
    ``visible`` finalizer and autoescaping.
    """

    def __init__(self, report: ClassReport) -> None:
        self.report = report
        self.exercises = exercise_names(report)
        self.titles = {name: report.exercise_titles.get(name, name) for name in self.exercises}
        self.pages = page_count(len(report.reports))
        self.graded = {r.student for r in report.reports}
        self.cluster_of = {name: n for n, cluster in enumerate(report.similar, 1) for name in cluster.students}

    def _render(self, template: str, **context: object) -> str:
        return environment().get_template(template).render(report=self.report, titles=self.titles, **context)

    def _cluster_href(self, number: int, *, here: str) -> str:
        page = "index.html" if number <= CLUSTERS_SHOWN else SIMILAR_PAGE
        return f"{'' if page == here else page}#cluster-{number}"

    def _rows(self, number: int, *, here: str) -> list[dict[str, object]]:
        start = (number - 1) * STUDENTS_PER_PAGE
        rows = []
        for r in self.report.reports[start : start + STUDENTS_PER_PAGE]:
            cluster = self.cluster_of.get(r.student)
            rows.append(
                {
                    "report": r,
                    "href": report_href(r.student),
                    "subtotals": subtotals(r, self.exercises),
                    "cluster": cluster,
                    "cluster_href": self._cluster_href(cluster, here=here) if cluster else "",
                }
            )
        return rows

    def _paging(self, number: int) -> dict[str, object]:
        total = len(self.report.reports)
        first = (number - 1) * STUDENTS_PER_PAGE + 1
        return {
            "number": number,
            "first": min(first, total),
            "last": min(first + STUDENTS_PER_PAGE - 1, total),
            "total": total,
            "links": [(n, student_page(n)) for n in range(1, self.pages + 1)] if self.pages > 1 else [],
        }

    def _clusters(self, *, limit: int | None, members: int | None) -> list[dict[str, object]]:
        shown = self.report.similar if limit is None else self.report.similar[:limit]
        return [self._cluster(n, cluster, members) for n, cluster in enumerate(shown, 1)]

    def _cluster(self, number: int, cluster: SimilarCluster, members: int | None) -> dict[str, object]:
        names = cluster.students if members is None else cluster.students[:members]
        return {
            "number": number,
            "size": len(cluster.students),
            "similarity": cluster.similarity,
            "exercises": [self.report.exercise_titles.get(name, name) for name in cluster.exercises],
            "members": [(name, report_href(name) if name in self.graded else None) for name in names],
            "more": len(cluster.students) - len(names),
        }

    def overview(self) -> str:
        report = self.report
        percents = [min(max(r.percent, 0.0), 100.0) for r in report.reports]
        bins = histogram(percents)
        stats = report.check_stats()
        checks = [
            {
                "stats": s,
                "hidden": s.hidden,
                "reasons": [(reason_text(text, hidden=s.hidden), n) for text, n in s.reasons],
                "absent": absent_text(s),
            }
            for s in stats
        ]
        clusters = self._clusters(limit=CLUSTERS_SHOWN, members=MEMBERS_SHOWN)
        return self._render(
            "overview.html.j2",
            exercises=self.exercises,
            students=self._rows(1, here="index.html"),
            paging=self._paging(1),
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
            clusters=clusters,
            clusters_complete=len(report.similar) <= CLUSTERS_SHOWN and not any(c["more"] for c in clusters),
            similar_page=SIMILAR_PAGE,
        )

    def students_page(self, number: int) -> str:
        here = student_page(number)
        return self._render(
            "students.html.j2",
            exercises=self.exercises,
            students=self._rows(number, here=here),
            paging=self._paging(number),
        )

    def similar_page(self) -> str:
        return self._render("similar.html.j2", clusters=self._clusters(limit=None, members=None))
