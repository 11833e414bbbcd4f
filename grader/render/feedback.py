"""What a report card leads with: the checks to fix, then what was not handed in, then the rest.

Shared by the HTML card, the terminal and the inline Jupyter result, so
each shows the same things in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.models import CheckResult, ExerciseSummary, Outcome, Report
from grader.render.escape import redacted


@dataclass(frozen=True)
class Unattempted:
    """The functions of one submitted exercise that were not attempted, and the points they carry."""

    exercise: str
    functions: tuple[str, ...]
    points: float


@dataclass(frozen=True)
class Feedback:
    """A report arranged for a student: mistakes first, each missing piece on one line."""

    #: Failed, errored and timed-out checks (and not-attempted checks of an attempted
    #: function), in assignment order, redacted for display.
    fixes: tuple[CheckResult, ...]
    unattempted: tuple[Unattempted, ...]
    #: Exercises not submitted at all, and how many checks and points they carry.
    not_submitted: tuple[str, ...]
    missing_checks: int
    missing_points: float
    #: The submitted exercises, every check of each (for the compact table).
    exercises: tuple[ExerciseSummary, ...]

    def anchors(self) -> dict[str, str]:
        """Check id -> the fragment id of its detail block."""
        return {check.id: f"check-{index}" for index, check in enumerate(self.fixes, start=1)}


def feedback(report: Report) -> Feedback:
    """Arrange ``report`` for a student."""
    missing = set(report.not_submitted)
    unattempted = set(report.unattempted())
    fixes = tuple(
        redacted(c)
        for c in report.checks
        if not c.outcome.ok
        and c.outcome is not Outcome.DEFERRED
        and c.exercise not in missing
        and (c.exercise, c.function) not in unattempted
    )
    grouped: dict[str, dict[str, float]] = {}
    for check in report.checks:
        if (check.exercise, check.function) in unattempted:
            functions = grouped.setdefault(check.exercise, {})
            functions[check.function] = functions.get(check.function, 0.0) + check.max_points
    skipped = [c for c in report.checks if c.exercise in missing]
    return Feedback(
        fixes=fixes,
        unattempted=tuple(
            Unattempted(exercise, tuple(functions), round(sum(functions.values()), 6))
            for exercise, functions in grouped.items()
        ),
        not_submitted=tuple(name for name in report.not_submitted if any(c.exercise == name for c in report.checks)),
        missing_checks=len(skipped),
        missing_points=round(sum(c.max_points for c in skipped), 6),
        exercises=tuple(e for e in report.exercises() if e.name not in missing),
    )
