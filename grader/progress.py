"""Progress of a class batch: a rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from grader.batch import Progress as BatchProgress
from grader.models import ClassReport
from grader.render.escape import visible


@contextmanager
def progress_display(*, force_terminal: bool | None = None) -> Iterator[Callable[[BatchProgress], None]]:
    """Yield the callback ``grade_class`` reports to; shows a bar with count, rate and ETA on a TTY."""
    console = Console(stderr=True, force_terminal=force_terminal, highlight=False)
    if not console.is_terminal:

        def line(progress: BatchProgress) -> None:
            note = " (cached)" if progress.cached else ""
            print(
                f"[{progress.done}/{progress.total}] {visible(progress.student)}: {progress.percent:.1f}%{note}",
                file=sys.stderr,
                flush=True,
            )

        yield line
        return
    columns = (
        TextColumn("grading"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("grading", total=None, rate="")

        def update(progress: BatchProgress) -> None:
            speed = bar.tasks[0].speed
            rate = f"{speed:.1f} students/s" if speed else ""
            bar.update(task, completed=progress.done, total=progress.total, rate=rate)

        yield update


def summarize_class(result: ClassReport) -> str:
    """One line for the terminal after a batch."""
    percents = [r.percent for r in result.reports]
    if not percents:
        return "no student was graded"
    return (
        f"graded {len(percents)} students: mean {statistics.fmean(percents):.1f}%, "
        f"median {statistics.median(percents):.1f}%, "
        f"{sum(1 for p in percents if p >= 100)} with full marks"
        + (f"; {len(result.similar)} group(s) of similar submissions flagged" if result.similar else "")
    )
