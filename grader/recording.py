"""Writing a student's copy: every public check run once against the reference, its answers recorded.

Each public check runs as it does when a student is graded, with the
public seeds (no salt) a student's copy draws: the reference solution
stands in for the student (``grader.plan.RecordingRunner``), and the
``reference`` a check sees records each answer it gives
(``grader.reference.LiveReference``). What is kept is only the answers,
encoded by the pickle-free codec, and the public checks' source; the
solutions stay on the teacher's side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from grader import __version__
from grader.assignment import Answer, Assignment, HiddenCheck
from grader.errors import AssignmentError
from grader.plan import RecordingRunner
from grader.plugin import CheckInfo, GraderPlugin, _Current, _execute, run_session
from grader.proxy import CallLog, seed_rngs
from grader.reference import Recording
from grader.sandbox.runner import SubmissionRunner
from grader.student_copy import COPY_NAME, pack_student_copy, public_checks_source
from grader.submission import Submission


@dataclass
class CopyRecording:
    """What running the public checks against the reference gave."""

    #: Exercise -> check id -> request key -> answer.
    answers: dict[str, dict[str, dict[str, Answer]]] = field(default_factory=dict)
    hidden: list[HiddenCheck] = field(default_factory=list)
    #: Exercise -> names of the hidden check functions (cut from the copy's checks).
    hidden_functions: dict[str, set[str]] = field(default_factory=dict)
    #: Checks that failed against the reference: the assignment is broken.
    failures: list[str] = field(default_factory=list)
    #: Reference answers the codec could not carry ("check: function: why"): those checks defer.
    unrecordable: list[str] = field(default_factory=list)


class _RecordingPlugin(GraderPlugin):
    """Runs every public check once with the reference standing in for the student, recording its answers."""

    def __init__(self, assignment: Assignment) -> None:
        super().__init__(assignment, (), runner_factory=_no_runner, on_result=lambda *_: None)
        self.recorded = CopyRecording()

    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if self.problems or session.testsfailed:
            return True
        try:
            self._record_all(list(session.items))
        except Exception as exc:  # noqa: BLE001 - re-raised by run_session, outside pytest
            self.crashed = exc
        return True

    def _record_all(self, items: list[pytest.Item]) -> None:
        for index, item in enumerate(items):
            info = self.infos[item.nodeid]
            if info.hidden:
                self._hide(item, info)
                continue
            recording = Recording()
            runner = RecordingRunner(self._reference, self._timing(info))
            stand_in = Submission(name="reference", files={}, exercises=(info.exercise,))
            self._current = _Current(runner, stand_in, info, CallLog(), recording)  # type: ignore[arg-type]
            seed_rngs(info.seed)
            following = items[index + 1] if index + 1 < len(items) else None
            try:
                exc = self._call_directly(item) if item.nodeid in self._direct else _execute(item, following)
            finally:
                self._current = None
            if exc is not None:
                self.recorded.failures.append(f"{info.id}: {type(exc).__name__}: {str(exc)[:300]}")
            self.recorded.answers.setdefault(info.exercise, {})[info.id] = recording.answers
            self.recorded.unrecordable += [f"{info.id}: {why}" for why in recording.unrecordable.values()]

    def _hide(self, item: pytest.Item, info: CheckInfo) -> None:
        self.recorded.hidden.append(HiddenCheck(info.exercise, info.function, info.name, info.description, info.points))
        function = getattr(item, "originalname", None) or item.name
        self.recorded.hidden_functions.setdefault(info.exercise, set()).add(function)


def _no_runner(submission: Submission) -> SubmissionRunner:
    raise AssertionError("recording a student copy runs no student code")


def record_answers(assignment: Assignment) -> CopyRecording:
    """Run every public check against the reference with the public seeds, recording the answers it gives."""
    if assignment.copy is not None:
        raise AssignmentError(f"a student copy is written from the full assignment, not from {assignment.describe()}")
    # One thread, as every grading session runs (``Grader``): the answers must not depend on the core count.
    torch.set_num_threads(1)
    plugin = _RecordingPlugin(dataclasses.replace(assignment, salt=""))
    run_session(plugin)
    return plugin.recorded


def write_student_copy(assignment: Assignment, out_dir: Path) -> tuple[Path, CopyRecording]:
    """Write ``out_dir/assignment.grader``: the student's copy of ``assignment`` (see ``grader.student_copy``)."""
    recorded = record_answers(assignment)
    if recorded.failures:
        raise AssignmentError(
            "these checks fail on the reference solution, so their answers cannot be recorded "
            "(run grader selftest):\n  " + "\n  ".join(recorded.failures)
        )
    checks = {
        exercise.name: public_checks_source(
            exercise.checks.read_text(encoding="utf-8"), recorded.hidden_functions.get(exercise.name, ())
        )
        for exercise in assignment.exercises
    }
    path = pack_student_copy(
        out_dir / COPY_NAME,
        assignment,
        checks=checks,
        answers=recorded.answers,
        hidden=recorded.hidden,
        written_by=__version__,
    )
    return path, recorded
