"""What an assignment contains: exercises, functions, checks and points (``grader list``)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.assignment import Assignment
from grader.plugin import CheckInfo, GraderPlugin, run_session
from grader.sandbox.runner import SubmissionRunner
from grader.submission import Submission


def catalog(assignment: Assignment) -> tuple[CheckInfo, ...]:
    """Collect the assignment's checks without grading anything (no sandbox needed)."""

    def no_runner(submission: Submission) -> SubmissionRunner:
        raise AssertionError("catalog grades nothing")

    plugin = GraderPlugin(assignment, [], runner_factory=no_runner, on_result=lambda *a: None)
    run_session(plugin)
    order = {name: i for i, name in enumerate(assignment.names)}
    return tuple(sorted(plugin.infos.values(), key=lambda info: order[info.exercise]))


def render_catalog(assignment: Assignment, checks: tuple[CheckInfo, ...], *, width: int = 100) -> str:
    """A table per exercise: function, check, points, hidden."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    total = sum(c.points for c in checks)
    console.print(
        f"{escape(assignment.title)}: {len(assignment.exercises)} exercises, {len(checks)} checks, {total:g} points"
    )
    for exercise in assignment.exercises:
        mine = [c for c in checks if c.exercise == exercise.name]
        table = Table(title=f"{exercise.name}: {escape(exercise.title)}", title_justify="left")
        table.add_column("function")
        table.add_column("check")
        table.add_column("points", justify="right")
        for info in mine:
            name = info.name + (" (hidden)" if info.hidden else "")
            table.add_row(escape(info.function), escape(name), f"{info.points:g}")
        untested = [f for f in exercise.functions if f not in {c.function for c in mine}]
        console.print(table)
        if untested:
            console.print(f"  functions with no check: {', '.join(untested)}")
    return buffer.getvalue()
