"""``grader check --watch``: grade a path again whenever a file under it is saved.

One grading session serves every round: the zygote stays warm and the
checks stay collected, so each round after the first costs only loading
the files and running the checks. Saves are noticed by polling ``stat``
(a few files, a few times a second: cheaper than it sounds and the same
on every file system, network mounts and containers included).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from grader.errors import SubmissionError
from grader.grading import Grader, exercises_to_check
from grader.models import Report
from grader.plugin import Job
from grader.submission import SKIP_DIRS, load_submission

POLL_S = 0.1
#: How long a change must stay as it is before it is graded: an editor may save in several steps.
SETTLE_S = 0.05
_WATCHED = (".py", ".ipynb", ".zip")

Snapshot = dict[str, tuple[int, int]]


def snapshot(path: Path) -> Snapshot:
    """The watched files under ``path`` (or ``path`` itself): relative name -> (mtime in ns, size)."""
    if path.is_file():
        candidates = [path]
    elif path.is_dir():
        candidates = [
            p
            for p in path.rglob("*")
            if not any(part in SKIP_DIRS or part.startswith(".") for part in p.relative_to(path).parts)
        ]
    else:
        return {}
    found: Snapshot = {}
    for candidate in candidates:
        if candidate.suffix not in _WATCHED:
            continue
        with contextlib.suppress(OSError):  # deleted between the listing and the stat: not there
            info = candidate.stat()
            if candidate.is_file():
                found[candidate.name if candidate == path else candidate.relative_to(path).as_posix()] = (
                    info.st_mtime_ns,
                    info.st_size,
                )
    return found


def changes(before: Snapshot | None, after: Snapshot) -> tuple[str, ...]:
    """Files added, changed or removed between two snapshots (every file for the first one)."""
    if before is None:
        return tuple(sorted(after))
    return tuple(sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name)))


def watch(
    path: Path,
    grader: Grader,
    *,
    on_report: Callable[[Report], None],
    on_status: Callable[[str], None],
    stop: threading.Event,
    name: str | None = None,
    rounds: int | None = None,
    poll_s: float = POLL_S,
) -> int:
    """Grade ``path`` now and after every save until ``stop`` is set (or ``rounds`` reports); return the rounds.

    ``on_status`` hears when a round starts ("grading ex05_activations.py")
    and why a save could not be graded; ``on_report`` gets each report.
    """
    assignment = grader.assignment
    graded = 0

    def jobs() -> Iterator[Job]:
        nonlocal graded
        seen: Snapshot | None = None
        waiting = False
        while not stop.is_set() and (rounds is None or graded < rounds):
            current = snapshot(path)
            if current == seen:
                if not waiting:
                    on_status(f"watching {path} for changes (Ctrl-C to stop)")
                    waiting = True
                stop.wait(poll_s)
                continue
            if seen is not None:
                stop.wait(min(poll_s, SETTLE_S))  # grade what a save settles on, not a half-written file
                if snapshot(path) != current:
                    continue
            changed, seen, waiting = changes(seen, current), current, False
            try:
                submission = load_submission(path, assignment, name=name)
            except SubmissionError as exc:
                on_status(f"cannot grade yet: {exc.message}")
                continue
            if not submission.exercises and not submission.problems:
                on_status(f"{path}: no exercise found yet (expected {', '.join(assignment.names)})")
                continue
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            on_status(f"grading {shown or path} ...")
            graded += 1
            yield Job(submission, exercises_to_check(submission, assignment))

    grader.run(jobs(), on_report)
    return graded


@contextlib.contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """An event that Ctrl-C sets, so a round in progress finishes and the watch ends cleanly.

    A second Ctrl-C while the round finishes interrupts it at once.
    """
    stop = threading.Event()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
