"""The grading service behind the in-kernel check: ``python -I -m grader.service``.

A Jupyter kernel runs the student's code, so the answer key must never
enter it. The kernel starts this process once and keeps it: it holds the
warm zygote and one pytest session with the checks collected, grades
through the same ``Grader`` as ``grader check``, and talks over its
stdin and stdout in plain JSON, one object a line (never pickle):

- service -> kernel, once: ``{"ready": true}`` or ``{"error": ..., "kind": ...}``;
- kernel -> service: ``{"cells": [[execution count, source], ...], "exercise": str | null,
  "function": str | null, "student": str}``;
- service -> kernel, for each request: ``{"report": <Report.to_dict()>}`` or
  ``{"error": <message>, "kind": "usage" | "assignment" | "sandbox" | "grader"}``.

The kernel's cells become a submission exactly as a saved notebook does
(docs/reference/notebooks.md), each cell the kernel ran, in the order it
ran them, as one cell of that notebook.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from grader.assignment import Assignment
from grader.errors import AssignmentError, GraderError, SandboxError, UsageError
from grader.models import Location, Report
from grader.notebook import code_cells_notebook
from grader.sandbox.limits import Limits
from grader.student_copy import open_assignment
from grader.submission import Submission, build_submission

if TYPE_CHECKING:  # grader.plugin imports torch: imported once the zygote is starting (see ``serve``)
    from grader.plugin import Job

#: The synthetic notebook the kernel's cells are graded as.
_CELLS_FILE = "kernel.ipynb"
#: How a note about one of its cells starts (``Location.describe``).
_CELL_PREFIX = re.compile(r"^kernel\.ipynb, cell (\d+),")


@dataclasses.dataclass(frozen=True)
class Request:
    """One in-kernel check: what the kernel has run, and what to grade of it."""

    cells: tuple[tuple[int, str], ...]
    exercise: str | None = None
    function: str | None = None
    student: str = "notebook"

    @classmethod
    def from_json(cls, line: str) -> Request:
        try:
            data = json.loads(line)
            cells = tuple((int(count), str(source)) for count, source in data["cells"])
            exercise, function = data.get("exercise"), data.get("function")
            if not all(value is None or isinstance(value, str) for value in (exercise, function)):
                raise TypeError("exercise and function are names")
            return cls(cells, exercise, function, str(data.get("student") or "notebook"))
        except (ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"malformed request to the grading service: {exc}") from None


def kernel_submission(request: Request, assignment: Assignment) -> Submission:
    """The kernel's cells as a submission: cell N of its notebook is the N-th cell the kernel ran.

    Notes about skipped cells are left out: in a kernel the student saw
    each cell run (or fail) already. Where a cell stopped in the sandbox is
    said in the report (``kernel_report``).
    """
    sources = [source for _, source in request.cells]
    raw = {_CELLS_FILE: code_cells_notebook(sources).encode()}
    return dataclasses.replace(build_submission(raw, assignment, name=request.student), problems=())


def kernel_location(where: Location, counts: Sequence[int]) -> Location:
    """A place in the kernel's cells as the kernel shows it: "In [7], line 2"."""
    if where.file == _CELLS_FILE and where.cell is not None and 0 < where.cell <= len(counts):
        return Location(file=f"In [{counts[where.cell - 1]}]", line=where.line)
    return where


def kernel_report(report: Report, request: Request) -> Report:
    """The report with every place in the kernel's cells given as the kernel shows it."""
    counts = [count for count, _ in request.cells]

    def problem(text: str) -> str:
        def execution(match: re.Match[str]) -> str:
            cell = int(match.group(1))
            return f"In [{counts[cell - 1]}]," if 0 < cell <= len(counts) else match.group(0)

        return _CELL_PREFIX.sub(execution, text, count=1)

    checks = tuple(
        dataclasses.replace(c, location=kernel_location(c.location, counts)) if c.location is not None else c
        for c in report.checks
    )
    return dataclasses.replace(report, checks=checks, problems=tuple(problem(p) for p in report.problems))


def select(request: Request, submission: Submission, assignment: Assignment) -> Job:
    """What to grade: the named function or exercise, else every exercise the kernel defines functions of."""
    from grader.plugin import Job  # after the zygote's start (see the module's imports)

    if request.exercise is not None and request.exercise not in assignment.names:
        raise UsageError(f"no exercise {request.exercise!r}; the exercises are {', '.join(assignment.names)}")
    if request.function is not None:
        owners = [
            e.name
            for e in assignment.exercises
            if request.function in e.functions and request.exercise in (None, e.name)
        ]
        if not owners:
            known = ", ".join(f for e in assignment.exercises for f in e.functions)
            raise UsageError(f"{request.function!r} is not a function of the assignment; its functions are {known}")
        if not set(owners) & set(submission.exercises):
            raise UsageError(
                f"{request.function} is not defined in this kernel: run the cell that defines it, then check again"
            )
        exercises = tuple(name for name in owners if name in submission.exercises)
        return Job(submission, exercises, (request.function,))
    if request.exercise is not None:
        return Job(submission, (request.exercise,))
    if not submission.exercises:
        example = assignment.exercises[0]
        raise UsageError(
            "no function of the assignment is defined in this kernel yet: run the cells that define them "
            f"(for example {example.functions[0]} of {example.name}), then check again"
        )
    return Job(submission, submission.exercises)


def _kind(exc: GraderError) -> str:
    for kind, cls in (("usage", UsageError), ("assignment", AssignmentError), ("sandbox", SandboxError)):
        if isinstance(exc, cls):
            return kind
    return "grader"


class _Session:
    """One pytest session's worth of requests; a grader failure ends it and the next starts fresh."""

    def __init__(self, assignment: Assignment, requests: IO[str], answers: IO[str]) -> None:
        self.assignment = assignment
        self.requests = requests
        self.answers = answers
        self.pending: Request | None = None
        self.finished = False

    def send(self, message: dict[str, Any]) -> None:
        self.answers.write(json.dumps(message, ensure_ascii=True) + "\n")
        self.answers.flush()

    def jobs(self) -> Iterator[Job]:
        for line in self.requests:
            if not line.strip():
                continue
            try:
                request = Request.from_json(line)
                submission = kernel_submission(request, self.assignment)
                job = select(request, submission, self.assignment)
            except GraderError as exc:
                self.send({"error": exc.message, "kind": _kind(exc)})
                continue
            self.pending = request
            yield job
        self.finished = True  # the kernel closed the pipe (it exited, or was restarted)

    def answer(self, report: Report) -> None:
        request, self.pending = self.pending, None
        self.send({"report": (kernel_report(report, request) if request is not None else report).to_dict()})

    def fail(self, exc: GraderError) -> None:
        if self.pending is not None:
            self.pending = None
            self.send({"error": exc.message, "kind": _kind(exc)})


def serve(assignment: Assignment, limits: Limits, requests: IO[str], answers: IO[str]) -> None:
    """Answer requests until ``requests`` ends, keeping the zygote and the collected checks warm."""
    from grader.sandbox.client import Zygote

    with Zygote().start() as zygote:  # first: it imports torch while this process does too
        from grader.grading import Grader

        with Grader(assignment, limits=limits, zygote=zygote) as grader:
            hello = _Session(assignment, requests, answers)
            hello.send({"ready": True})
            while True:
                session = _Session(assignment, requests, answers)
                try:
                    grader.run(session.jobs(), session.answer)
                except GraderError as exc:
                    if session.pending is None:
                        raise  # not about a request (the checks cannot be collected): nothing to retry
                    session.fail(exc)
                    continue
                if session.finished:
                    return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m grader.service", description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--memory", type=int, default=None)
    args = parser.parse_args(argv)
    # Answers go to a private copy of stdout; anything else printed (by a check, by pytest)
    # goes to stderr, so it can never corrupt the protocol.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        assignment = open_assignment(args.assignment)
        serve(
            assignment, assignment.limits.overridden(timeout_s=args.timeout, memory_mib=args.memory), sys.stdin, answers
        )
    except GraderError as exc:
        answers.write(json.dumps({"error": exc.message, "kind": _kind(exc)}) + "\n")
        answers.flush()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
