"""Grading on a platform's own machine: Gradescope, PrairieLearn and Autolab.

Each platform puts the student's files in a fixed place and reads the result
from another. ``autograde`` finds the submission there, grades it with the
same engine as every other mode, on the whole assignment (so a missing
exercise shows as not attempted, and the gradebook gets its zero), and puts
the platform's format where the platform reads it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.assignment import MANIFEST, Assignment
from grader.errors import UsageError
from grader.models import Report
from grader.output import write_atomic
from grader.render.autolab import render_autolab
from grader.render.gradescope import render_gradescope
from grader.render.prairielearn import render_prairielearn
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.submission import Submission, load_submission


@dataclass(frozen=True)
class Platform:
    """Where a platform puts a submission, where it reads the result, and in which format."""

    name: str
    title: str
    render: Callable[[Report], str]
    #: The folder the platform grades in, as it is on the platform's machine (None: the current folder).
    root: Path | None
    #: The student's files, relative to the root (None: given on the command line).
    submission: str | None
    #: Where the platform reads the result, relative to the root (None: standard output).
    results: str | None
    #: Where the assignment is by convention, relative to the root (None: the bundled one).
    assignment: str | None


PLATFORMS: dict[str, Platform] = {
    platform.name: platform
    for platform in (
        # https://gradescope-autograders.readthedocs.io/en/latest/specs/ ; the bundle
        # (``grader bundle gradescope``) unpacks the assignment into source/assignment.
        Platform(
            "gradescope",
            "Gradescope",
            render_gradescope,
            root=Path("/autograder"),
            submission="submission",
            results="results/results.json",
            assignment="source/assignment",
        ),
        # PrairieLearn's "External Grading" page: the question's tests/ folder, hidden
        # from students, is mounted at /grade/tests; results/ must be created.
        Platform(
            "prairielearn",
            "PrairieLearn",
            render_prairielearn,
            root=Path("/grade"),
            submission="student",
            results="results/results.json",
            assignment="tests",
        ),
        # Autolab runs `make` in a folder holding the hand-in file and reads stdout.
        Platform("autolab", "Autolab", render_autolab, root=None, submission=None, results=None, assignment=None),
    )
}


@dataclass(frozen=True)
class Autograded:
    """What ``autograde`` did: the report, its rendering, and the file it went to (None: standard output)."""

    report: Report
    text: str
    results: Path | None


def process_started() -> float:
    """When this process started, on ``time.monotonic``'s clock (a platform's run is the whole process).

    Read from the kernel (``/proc/self/stat``, in clock ticks since boot);
    where it cannot be, the present moment.
    """
    now = time.monotonic()
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - max(0.0, age)


def platform_root(platform: Platform, root: Path | None) -> Path:
    return root if root is not None else (platform.root or Path.cwd())


def conventional_assignment(platform: Platform, root: Path | None) -> Path | None:
    """The platform's usual assignment folder, when it holds one; else None (the bundled assignment)."""
    if platform.assignment is None:
        return None
    folder = platform_root(platform, root) / platform.assignment
    return folder if (folder / MANIFEST).is_file() else None


def _submission_path(platform: Platform, root: Path, given: Path | None) -> Path:
    if given is None and platform.submission is None:
        raise UsageError(f"{platform.title}: give the hand-in file, e.g. `grader autograde {platform.name} handin.zip`")
    path = given if given is not None else root / str(platform.submission)
    if not path.exists():
        hint = "" if given is not None else f": is this {platform.title}'s grading machine? --root sets its folder"
        raise UsageError(f"{path} does not exist{hint}")
    if path.is_dir():
        # A student who uploaded a zip of their work, which the platform left zipped.
        entries = [p for p in path.iterdir() if not p.name.startswith(".")]
        if len(entries) == 1 and entries[0].suffix == ".zip" and entries[0].is_file():
            return entries[0]
    return path


def _with_missing_note(submission: Submission, assignment: Assignment, chosen: Sequence[str]) -> Submission:
    """Say on the report why everything is "not attempted" when no chosen exercise was found."""
    if any(name in submission.exercises for name in chosen):
        return submission
    files = ", ".join(f"{name}.py" for name in chosen)
    first = assignment.exercise(chosen[0])
    example = f" (for example {first.functions[0]} of {first.name})" if first.functions else ""
    note = f"no exercise found in the submission: name the files {files} or define their functions{example}"
    return dataclasses.replace(submission, problems=(*submission.problems, note))


def chosen_exercises(assignment: Assignment, exercises: Sequence[str]) -> tuple[str, ...]:
    """The ``--exercise`` names in assignment order, or every exercise when none is given."""
    unknown = [name for name in exercises if name not in assignment.names]
    if unknown:
        raise UsageError(f"unknown --exercise {', '.join(unknown)}; the assignment has {', '.join(assignment.names)}")
    return tuple(name for name in assignment.names if name in exercises) or assignment.names


def autograde(
    platform: Platform,
    assignment: Assignment,
    *,
    root: Path | None = None,
    submission: Path | None = None,
    exercises: Sequence[str] = (),
    limits: Limits | None = None,
    started: float | None = None,
) -> Autograded:
    """Grade the platform's submission and write its result where the platform reads it.

    The report's ``duration_s`` is the run's real duration (Gradescope's
    ``execution_time``), from ``started`` (``time.monotonic``; the CLI passes
    ``process_started()``) or else from this call: the sandbox's start-up
    and the reading of the submission included, not only the checks.

    A submission with nothing the grader recognises is still graded (every
    check not attempted, with a note saying what was expected), so the
    platform records a zero and the student learns why; only a grader
    failure (a bad path, a broken sandbox) raises.
    """
    started = time.monotonic() if started is None else started
    chosen = chosen_exercises(assignment, exercises)
    base = platform_root(platform, root)
    path = _submission_path(platform, base, submission)
    loaded = _with_missing_note(load_submission(path, assignment, name="submission"), assignment, chosen)
    with Zygote().start() as zygote:
        # Imported once the zygote is starting: it imports torch in parallel with this process.
        from grader.grading import Grader

        with Grader(assignment, limits=limits, zygote=zygote) as grader:
            report = grader.grade(loaded, exercises=chosen)
    report = dataclasses.replace(report, duration_s=max(report.duration_s, time.monotonic() - started))
    text = platform.render(report)
    results = base / platform.results if platform.results is not None else None
    if results is not None:
        write_atomic(results, text)
    return Autograded(report, text, results)
