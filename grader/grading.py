"""``grade(submission, assignment) -> Report``: the one orchestrator every mode calls.

A ``Grader`` starts the sandbox zygote *before* any check or solution is
imported, then runs one pytest session whose collected checks are executed
once per submission (see ``plugin.py``). ``grader check``, ``grader grade``
and CI all go through ``Grader.run``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

from grader import __version__
from grader.assignment import Assignment
from grader.errors import SandboxError
from grader.models import CheckResult, Report
from grader.plugin import GraderPlugin, Job, SessionMemory, run_session
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.runner import SubmissionRunner
from grader.sandbox.scratch import make_root
from grader.submission import Submission


class Grader:
    """A grading session: one warm zygote, the assignment's checks collected once."""

    def __init__(
        self,
        assignment: Assignment,
        *,
        limits: Limits | None = None,
        zygote: Zygote | None = None,
        scratch: Path | None = None,
    ) -> None:
        self.assignment = assignment
        self.limits = limits or assignment.limits
        # One thread: the checks' tensors are tiny (a thread pool costs more than it
        # saves), and results must not depend on the machine's core count.
        torch.set_num_threads(1)
        # Started first: the zygote must never see a check or a solution. A batch
        # passes in a client of a zygote shared by all its grading processes.
        self.zygote = zygote if zygote is not None else Zygote().start()
        # Where workers' folders go. A batch passes its own, which it removes
        # itself even when a grading process is killed before it can clean up.
        self._owns_scratch = scratch is None
        self._scratch = make_root("grader-scratch-") if scratch is None else scratch
        #: Plans and remembered verdicts, kept while the checks and solutions stay as they were.
        self._memory = SessionMemory()
        self._memory_of = ""
        self._fingerprint = ""
        #: The zygote and plans last sent to it (``_preload_plans``).
        self._preloaded: tuple[int, ...] = ()

    def sharing(self, assignment: Assignment) -> Grader:
        """A session on another assignment that uses this one's zygote and scratch folder.

        Never close it: closing this session closes what both share.
        """
        return Grader(assignment, limits=self.limits, zygote=self.zygote, scratch=self._scratch)

    def switch_zygote(self, zygote: Zygote) -> None:
        """Ask ``zygote`` for workers from now on, closing the client this session had.

        A grading process forked from another (``engine._fork_others``) inherits
        its parent's session: the client it inherited is the parent's control
        channel, and its own is the one the zygote made for it.
        """
        self.zygote.close()
        self.zygote = zygote

    def close(self) -> None:
        self.zygote.close()
        if self._owns_scratch:
            with contextlib.suppress(OSError):
                self._scratch.rmdir()

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        jobs: Iterable[Job],
        on_report: Callable[[Report], None],
        on_lost: Callable[[Job, str], None] | None = None,
    ) -> None:
        """Grade every job, calling ``on_report`` as each submission's report is ready.

        ``on_lost`` hears of a job that could not be graded because helper
        processes kept dying under it (see ``GraderPlugin._grade_job``);
        without it, that raises ``HelperLost``.
        """

        def finished(
            job: Job, results: list[CheckResult], layers: tuple[str, ...], duration: float, notes: tuple[str, ...]
        ) -> None:
            on_report(self._report(job, results, layers, duration, notes))

        fingerprint = self._fingerprint = self.assignment.fingerprint()
        if fingerprint != self._memory_of:
            # A new assignment's memory, sharing its verdicts if this session's did (``share_verdicts``).
            self._memory, self._memory_of = SessionMemory(share=self._memory.share), fingerprint
        plugin = GraderPlugin(
            self.assignment,
            jobs,
            runner_factory=self._runner,
            on_result=finished,
            memory=self._memory,
            on_lost=on_lost,
        )
        run_session(plugin)

    def grade(
        self,
        submission: Submission,
        *,
        exercises: Iterable[str] | None = None,
        functions: Iterable[str] | None = None,
    ) -> Report:
        """Grade one submission on ``exercises`` (default: every exercise of the assignment).

        ``functions``, if given, keeps only the checks of those functions.
        """
        chosen = tuple(exercises) if exercises is not None else self.assignment.names
        reports: list[Report] = []
        only = tuple(functions) if functions is not None else None
        self.run([Job(submission, chosen, only)], reports.append)
        if len(reports) != 1:
            raise SandboxError("grading ended without a report")
        return reports[0]

    def share_verdicts(self) -> None:
        """Keep the verdicts this session reaches for ``reached_verdicts``, from its next run on."""
        self._memory.share = True

    def reached_verdicts(self) -> list[tuple[bytes, tuple[CheckResult, tuple[str, ...]]]]:
        """The verdicts reached since the last call (``share_verdicts``), for ``learn_verdicts`` elsewhere."""
        fresh, self._memory.fresh = self._memory.fresh, []
        return fresh

    def learn_verdicts(self, verdicts: Iterable[tuple[bytes, tuple[CheckResult, tuple[str, ...]]]]) -> None:
        """Verdicts another session on the same assignment reached (``SessionMemory.learn``)."""
        self._memory.learn(verdicts)

    def _runner(self, submission: Submission) -> SubmissionRunner:
        self._preload_plans()
        return SubmissionRunner(self.zygote, submission.files, self.limits, self._scratch)

    def _preload_plans(self) -> None:
        """Send the zygote the checks' planned requests, once they are recorded: it loads them for every worker.

        Again whenever the plans or the zygote changed (a restarted zygote
        holds none). Each grading process of a batch sends the same plan,
        which the zygote loads once (``zygote._Plan``).
        """
        plans = self._memory.plans
        sent = (id(self.zygote), self.zygote.generation, id(plans), len(plans))
        if not plans or sent == self._preloaded:
            return
        self._preloaded = sent
        self.zygote.preload([call.request for calls in plans.values() for call in calls])

    def _report(
        self, job: Job, results: list[CheckResult], layers: tuple[str, ...], duration: float, notes: tuple[str, ...]
    ) -> Report:
        titles = {name: title for name, title in self.assignment.titles().items() if name in job.exercises}
        return Report(
            student=job.submission.name,
            checks=tuple(results),
            problems=(*job.submission.problems, *notes),
            exercise_titles=titles,
            assignment=self.assignment.title,
            isolation=layers,
            duration_s=duration,
            grader_version=__version__,
            not_submitted=tuple(name for name in job.exercises if name not in job.submission.exercises),
            fingerprint=self._fingerprint[:12],
            student_copy=self.assignment.copy is not None,
        )


def exercises_to_check(submission: Submission, assignment: Assignment) -> tuple[str, ...]:
    """What ``grader check`` grades: the exercises the submission provides.

    When it provides none but had problems (an unreadable notebook), every
    exercise is graded so the student sees the zero and the reason.
    """
    if submission.exercises:
        return submission.exercises
    return assignment.names


def grade(
    submission: Submission,
    assignment: Assignment,
    *,
    exercises: Iterable[str] | None = None,
    limits: Limits | None = None,
) -> Report:
    """Grade one submission in a fresh session (for library users grading one thing)."""
    with Grader(assignment, limits=limits) as grader:
        return grader.grade(submission, exercises=exercises)
