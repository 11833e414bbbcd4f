"""The pytest plugin: collects the checks once, then runs them for each submission.

pytest owns discovery, fixtures and assertion rewriting; this plugin replaces
its run loop so one collected session grades many submissions, and turns
each check's outcome into a ``CheckResult``. The student's conftest.py, if
any, is never on pytest's path: only the assignment's checks folder is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _pytest.runner import runtestprotocol  # the documented way custom run loops run an item

from grader.assignment import Assignment, import_file
from grader.checking import MARKER, CheckFailed, LoadFailed, StudentCodeError
from grader.errors import AssignmentError, GraderError, HelperLost
from grader.models import NOT_SUBMITTED_MESSAGE, CheckResult, Location, Outcome
from grader.notebook import describe_stop
from grader.plan import RecordingRunner
from grader.proxy import CallLog, StudentModule, reference_seconds, seed_rngs
from grader.reference import LiveReference, NotRecorded, RecordedReference, Recording
from grader.sandbox.cells import CellStop
from grader.sandbox.runner import PlannedCall, SubmissionRunner
from grader.submission import Submission

_EXC_KEY = pytest.StashKey[BaseException | None]()
_CHECKS_INI = Path(__file__).with_name("checks.ini")
HIDDEN_MESSAGE = "hidden check: its inputs and expected values are not shown"
#: A check a student's copy cannot judge: one of its reference calls was not recorded.
NOT_RECORDED_MESSAGE = (
    "not judged here: this check asked the reference about an input your copy of the assignment did not "
    "record (it follows from an earlier answer of {function}); it is checked when your teacher grades"
)
#: A hidden check, in a student's copy: listed, never shipped.
DEFERRED_HIDDEN_MESSAGE = "hidden check: it runs when your teacher grades"
#: The most verdicts a grading session remembers (see ``GraderPlugin._recall``).
MEMO_ENTRIES = 200_000
#: How many times a submission is graded from scratch when a helper process dies under it (see ``_grade_job``).
JOB_ATTEMPTS = 2


@dataclass(frozen=True)
class CheckInfo:
    """A collected check's metadata, read from its ``@check`` marker."""

    exercise: str
    function: str
    name: str
    description: str
    points: float
    hidden: bool
    hint: str
    #: What the check's inputs are drawn from (``check_seed``, with the assignment's salt).
    seed: int

    @property
    def id(self) -> str:
        return f"{self.exercise}::{self.name}"


@dataclass(frozen=True)
class Job:
    """One submission to grade, and which exercises to grade it on."""

    submission: Submission
    exercises: tuple[str, ...]
    #: Only the checks of these functions (None: every function of ``exercises``).
    functions: tuple[str, ...] | None = None

    def selects(self, info: CheckInfo) -> bool:
        return info.exercise in self.exercises and (self.functions is None or info.function in self.functions)


@dataclass
class SessionMemory:
    """What grading sessions on one assignment can share: the checks' plans and the verdicts remembered.

    Both follow from the checks and the reference solutions alone, so a
    ``Grader`` keeps one across its runs (``grader check --watch``, the
    Jupyter service) and starts a new one when those files change.
    """

    #: Each plain check's calls to a right answer (``grader.plan``), by node id.
    plans: dict[str, tuple[PlannedCall, ...]] = field(default_factory=dict)
    #: Verdicts by the answers they were reached from (see ``GraderPlugin._recall``).
    memo: dict[bytes, tuple[CheckResult, tuple[str, ...]]] = field(default_factory=dict)
    #: Whether the verdicts reached here are also kept in ``fresh``, for other grading processes (``learn``).
    share: bool = False
    #: The verdicts reached since ``fresh`` was last emptied, when ``share`` is set.
    fresh: list[tuple[bytes, tuple[CheckResult, tuple[str, ...]]]] = field(default_factory=list)

    def remember(self, key: bytes, verdict: tuple[CheckResult, tuple[str, ...]]) -> None:
        """Keep a verdict reached here (at most ``MEMO_ENTRIES`` in all)."""
        if len(self.memo) < MEMO_ENTRIES and key not in self.memo:
            self.memo[key] = verdict
            if self.share:
                self.fresh.append((key, verdict))

    def learn(self, verdicts: Iterable[tuple[bytes, tuple[CheckResult, tuple[str, ...]]]]) -> None:
        """Keep verdicts another grading process of the batch reached (``fresh`` there): as if reached here.

        A verdict follows from the checks, the reference and the answers
        alone, so it is the same whichever process reached it; a batch's
        grading processes, each grading part of the class, then run a check
        once for an answer the class gives, not once per process.
        """
        for key, verdict in verdicts:
            if len(self.memo) >= MEMO_ENTRIES:
                return
            self.memo.setdefault(key, verdict)


@dataclass(frozen=True)
class _Collected:
    """A collected check as grading reads it for every submission: read from pytest once a session.

    (``Item.nodeid`` is a property that makes its text anew: read six times a check, it was
    about 800 calls a student.)
    """

    item: pytest.Item
    nodeid: str
    info: CheckInfo
    #: Whether it runs without pytest's set-up state (see ``_call_directly``).
    direct: bool


#: A lane's checks, in the order they run: each with its position in the selection, and the item run after it.
_Lane = list[tuple[int, _Collected, pytest.Item | None]]


@dataclass
class _Current:
    runner: SubmissionRunner
    submission: Submission
    info: CheckInfo
    log: CallLog
    #: Set while a student's copy is written: every answer the reference gives this check.
    recording: Recording | None = None


class GraderPlugin:
    """Registered with ``pytest.main(plugins=[...])`` for one grading session."""

    def __init__(
        self,
        assignment: Assignment,
        jobs: Iterable[Job],
        *,
        runner_factory: Callable[[Submission], SubmissionRunner],
        on_result: Callable[[Job, list[CheckResult], tuple[str, ...], float, tuple[str, ...]], None],
        memory: SessionMemory | None = None,
        on_lost: Callable[[Job, str], None] | None = None,
    ) -> None:
        self.assignment = assignment
        #: Hears of a submission that could not be graded because helper processes kept dying under it;
        #: without it, that is a ``HelperLost`` error.
        self.on_lost = on_lost
        self.jobs = jobs
        self.runner_factory = runner_factory
        self.on_result = on_result
        self.infos: dict[str, CheckInfo] = {}
        self.problems: list[str] = []
        #: A grader-side error raised while grading, re-raised by the caller
        #: (pytest would otherwise swallow it as an "internal error").
        self.crashed: BaseException | None = None
        self._current: _Current | None = None
        self._references: dict[str, ModuleType] = {}
        #: Node ids of the checks run without pytest's set-up state (see _call_directly).
        self._direct: set[str] = set()
        #: The plans and verdicts this session knows, kept across runs by a ``Grader`` (see ``SessionMemory``).
        self._memory = memory if memory is not None else SessionMemory()
        #: The lanes of the checks each selection of exercises and functions runs (see ``_lanes``).
        self._selections: dict[tuple[tuple[str, ...], tuple[str, ...] | None], list[_Lane]] = {}
        #: Each check's memo key hash, seeded once (see ``_memo_digest``).
        self._memo_seeds: dict[tuple[str, bool], Any] = {}

    # -- collection ---------------------------------------------------------------

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        order = {name: index for index, name in enumerate(self.assignment.names)}
        for item in items:
            info = self._info(item)
            if info is not None:
                self.infos[item.nodeid] = info
        items[:] = sorted(
            (i for i in items if i.nodeid in self.infos),
            key=lambda i: order.get(self.infos[i.nodeid].exercise, len(order)),
        )
        self._direct = {item.nodeid for item in items if _uses_only_grader_fixtures(item)}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.problems.append(f"{report.nodeid or 'checks'}: {_first_lines(str(report.longrepr))}")

    def _info(self, item: pytest.Item) -> CheckInfo | None:
        path = Path(str(item.path))
        exercise = path.stem.removeprefix("check_")
        marker = item.get_closest_marker(MARKER)
        where = f"{path.name}::{item.name}"
        if exercise not in self.assignment.names:
            self.problems.append(f"{where}: {path.name} does not match an exercise of the assignment")
            return None
        if marker is None:
            self.problems.append(f"{where}: missing @check(function, points=...) decorator")
            return None
        function = marker.kwargs.get("function")
        if function not in self.assignment.exercise(exercise).functions:
            self.problems.append(f"{where}: @check names {function!r}, which is not a function of {exercise}")
            return None
        doc = (getattr(getattr(item, "function", None), "__doc__", None) or "").strip()
        name = item.name.removeprefix("check_")
        return CheckInfo(
            exercise=exercise,
            function=function,
            name=name,
            description=doc.splitlines()[0] if doc else name.replace("_", " "),
            points=float(marker.kwargs.get("points", 1.0)),
            hidden=bool(marker.kwargs.get("hidden", False)) or f"{exercise}::{name}" in self.assignment.hidden,
            hint=str(marker.kwargs.get("hint", "")),
            seed=check_seed(exercise, name, salt=self.assignment.salt),
        )

    # -- fixtures -------------------------------------------------------------------

    @pytest.fixture
    def student(self) -> StudentModule:
        return self._student()

    @pytest.fixture
    def reference(self) -> ModuleType | LiveReference | RecordedReference:
        return self._check_reference()

    def _check_reference(self) -> ModuleType | LiveReference | RecordedReference:
        """The reference the current check sees: the solution run here, or a student copy's recorded answers."""
        current = self._require_current()
        info = current.info
        copy = self.assignment.copy
        if copy is not None:
            return RecordedReference(copy.answers.get(info.id, {}), exercise=info.exercise)
        if current.recording is None:
            # The teacher's grade: the solution itself, called as it always was (its inputs are salted, so they
            # need not match a recording; wrapping each call would cost about 0.2 ms of CPU).
            return self._reference(info.exercise)
        return LiveReference(self._reference(info.exercise), seed=info.seed, recording=current.recording)

    def _timing(self, info: CheckInfo) -> Callable[[str, tuple[Any, ...], dict[str, Any]], float | None]:
        """How long the reference takes on a call's arguments, asked only when a student's call runs long."""
        copy = self.assignment.copy
        if copy is not None:
            return RecordedReference(copy.answers.get(info.id, {}), exercise=info.exercise).seconds
        return lambda function, args, kwargs: reference_seconds(self._reference(info.exercise), function, args, kwargs)

    def _student(self) -> StudentModule:
        current = self._require_current()
        exercise = current.info.exercise
        return StudentModule(
            current.runner,
            exercise,
            provided=exercise in current.submission.exercises,
            seed=current.info.seed,
            log=current.log,
            contract=self.assignment.exercise(exercise).contract,
            reference_s=self._timing(current.info),
        )

    def _require_current(self) -> _Current:
        if self._current is None:
            raise RuntimeError("the student fixture is only available while grading")
        return self._current

    def _reference(self, exercise: str) -> ModuleType:
        """The reference solution's module (never loaded from a student's copy, which has none)."""
        module = self._references.get(exercise)
        if module is None:
            solution = self.assignment.exercise(exercise).solution
            if solution is None:
                raise AssignmentError(f"{self.assignment.describe()} holds no reference solution of {exercise}")
            module = import_file(solution, f"_grader_reference_{exercise}")
            self._references[exercise] = module
        return module

    # -- running --------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
        """Keep the exception as data and skip pytest's failure formatting.

        The verdict is computed from the exception itself; pytest's traceback
        rendering (source, assertion introspection) costs about 10 ms per failed
        check, most of a stub's grading time, and nobody reads it.
        """
        excinfo = call.excinfo
        if call.when == "call" or (call.when == "setup" and excinfo is not None):
            item.stash[_EXC_KEY] = excinfo.value if excinfo is not None else None
        return pytest.TestReport(
            item.nodeid,
            item.location,
            keywords={},
            outcome="passed" if excinfo is None else "failed",
            longrepr=None if excinfo is None else f"{excinfo.typename}: {excinfo.exconly()[:500]}",
            when=call.when,  # type: ignore[arg-type]  # "collect" never reaches this hook
            duration=call.duration,
            start=call.start,
            stop=call.stop,
        )

    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        if self.problems or session.testsfailed:
            return True  # the caller reports self.problems
        try:
            self._grade_jobs(list(session.items))
        except Exception as exc:  # noqa: BLE001 - re-raised by the caller, outside pytest
            self.crashed = exc
        return True

    def _grade_jobs(self, items: list[pytest.Item]) -> None:
        plans = self._record_plans(items)
        checks = [_Collected(i, i.nodeid, self.infos[i.nodeid], i.nodeid in self._direct) for i in items]
        for job in self.jobs:
            self._grade_job(job, checks, plans)

    def _grade_job(self, job: Job, checks: list[_Collected], plans: dict[str, tuple[PlannedCall, ...]]) -> None:
        """Grade one submission; from scratch again if a helper process died under it (``SubmissionRunner.lost``).

        A worker's death that was not the student's doing (the zygote gone, a
        kill from outside) must not cost them a point: the whole submission is
        graded again on fresh processes, where every check gets the answers a
        clean run gives (grading is deterministic). If that attempt is cut
        short too, nothing is reported for the submission: ``on_lost`` hears
        why, or ``HelperLost`` says it.
        """
        started = time.perf_counter()
        lanes = self._lanes(job, checks)
        provided = set(job.submission.exercises)
        lost = ""
        for attempt in range(JOB_ATTEMPTS):
            graded: dict[int, CheckResult] = {}
            notes: dict[str, None] = {}
            stops: dict[CellStop, None] = {}
            layers: tuple[str, ...] = ()
            lost = ""
            for lane in lanes:
                runner = self.runner_factory(job.submission)
                runner.again = attempt > 0
                runner.expect([plans.get(c.nodeid, ()) if c.info.exercise in provided else () for _, c, _ in lane])
                self._grade_lane(job, runner, lane, notes, graded)
                layers, lost = layers or runner.layers, runner.lost
                stops.update(dict.fromkeys(runner.cell_stops))
                if lost:
                    break
            if not lost:
                results = [graded[n] for n in range(sum(map(len, lanes)))]
                results, notes = _after_cell_stops(job.submission, results, notes, tuple(stops))
                results = self._with_hidden(job, results)
                self.on_result(job, results, layers, time.perf_counter() - started, tuple(notes))
                return
        if self.on_lost is None:
            raise HelperLost(f"could not grade {job.submission.name}: {lost}")
        self.on_lost(job, lost)

    def _lanes(self, job: Job, checks: list[_Collected]) -> list[_Lane]:
        """The checks ``job`` selects, in the lanes they run in: each with its position and the item run after it.

        Empty lanes are left out. Hidden checks run in a runner and worker of their own, after the
        visible checks' worker is gone: nothing of their calls (requests ahead in a read buffer,
        arguments a call keeps) can reach a visible check's output. The lanes follow from the
        exercises and functions selected alone, the same for every student of a class: they are
        made once a session for each selection.
        """
        key = (tuple(job.exercises), None if job.functions is None else tuple(job.functions))
        lanes = self._selections.get(key)
        if lanes is None:
            selected = [c for c in checks if job.selects(c.info)]
            positions = [[n for n, c in enumerate(selected) if c.info.hidden is hidden] for hidden in (False, True)]
            order = [*positions[0], *positions[1]]
            following = dict(zip(order, [selected[n].item for n in order[1:]], strict=False))
            lanes = [[(n, selected[n], following.get(n)) for n in lane] for lane in positions if lane]
            self._selections[key] = lanes
        return lanes

    def _grade_lane(
        self,
        job: Job,
        runner: SubmissionRunner,
        lane: _Lane,
        notes: dict[str, None],
        graded: dict[int, CheckResult],
    ) -> None:
        """Run a lane's checks (position in the selection, check, the item run next) with ``runner`` alone."""
        try:
            for index, (position, check, following) in enumerate(lane):
                graded[position] = self._run(check, index, following, runner, job.submission, notes)
                if runner.lost:  # a check that caught the loss itself
                    break
        except HelperLost:
            pass
        finally:
            runner.close()

    def _with_hidden(self, job: Job, results: list[CheckResult]) -> list[CheckResult]:
        """A student copy's hidden checks, listed where their exercise's checks end: run when the teacher grades."""
        copy = self.assignment.copy
        if copy is None or not copy.hidden:
            return results
        submitted = set(job.submission.exercises)
        seen: dict[tuple[str, str], set[Outcome]] = {}
        for result in results:
            seen.setdefault((result.exercise, result.function), set()).add(result.outcome)
        for hidden in copy.hidden:
            if hidden.exercise not in job.exercises or (
                job.functions is not None and hidden.function not in job.functions
            ):
                continue
            if hidden.exercise not in submitted:
                outcome, message = Outcome.NOT_ATTEMPTED, NOT_SUBMITTED_MESSAGE.format(exercise=hidden.exercise)
            elif seen.get((hidden.exercise, hidden.function)) == {Outcome.NOT_ATTEMPTED}:
                outcome, message = Outcome.NOT_ATTEMPTED, f"{hidden.function} has not been written yet"
            else:
                outcome, message = Outcome.DEFERRED, DEFERRED_HIDDEN_MESSAGE
            results.append(
                CheckResult(
                    exercise=hidden.exercise,
                    function=hidden.function,
                    name=hidden.name,
                    outcome=outcome,
                    points=0.0,
                    max_points=hidden.points,
                    description=hidden.description,
                    message=message,
                    hidden=True,
                )
            )
        order = {name: index for index, name in enumerate(self.assignment.names)}
        return sorted(results, key=lambda result: order.get(result.exercise, len(order)))

    def _record_plans(self, items: list[pytest.Item]) -> dict[str, tuple[PlannedCall, ...]]:
        """Run each plain check once against the reference, recording the calls it makes (``grader.plan``)."""
        plans = self._memory.plans
        for item in items:
            if item.nodeid in self._direct and item.nodeid not in plans:
                plans[item.nodeid] = self._record(item)
        return plans

    def _record(self, item: pytest.Item) -> tuple[PlannedCall, ...]:
        info = self.infos[item.nodeid]
        copy = self.assignment.copy
        if copy is not None:
            recorded = RecordedReference(copy.answers.get(info.id, {}), exercise=info.exercise)
            recorder = RecordingRunner(lambda _exercise: recorded, self._timing(info))
        else:
            recorder = RecordingRunner(self._reference, self._timing(info))
        # The reference stands in for a student who handed the exercise in: the check runs as in grading.
        stand_in = Submission(name="reference", files={}, exercises=(info.exercise,))
        self._current = _Current(recorder, stand_in, info, CallLog())  # type: ignore[arg-type]  # all it uses
        seed_rngs(info.seed)
        try:
            self._call_directly(item)  # only the calls made matter; selftest reports a failing check
        finally:
            self._current = None
        return tuple(recorder.calls)

    def _run(
        self,
        check: _Collected,
        index: int,
        following: pytest.Item | None,
        runner: SubmissionRunner,
        submission: Submission,
        notes: dict[str, None],
    ) -> CheckResult:
        item, info, direct = check.item, check.info, check.direct
        started = time.perf_counter()
        runner.start_check(index)
        provided = info.exercise in submission.exercises
        if direct and (known := self._recall(check.nodeid, provided, runner, index)) is not None:
            result, known_notes = known
            notes.update(dict.fromkeys(known_notes))
            return _placed(
                result,
                0.0 if info.hidden else time.perf_counter() - started,
                submission.locations.get((info.exercise, info.function)),
            )
        self._current = _Current(runner, submission, info, CallLog())
        seed_rngs(info.seed)
        try:
            exc = self._call_directly(item) if direct else _execute(item, following)
        finally:
            log = self._current.log
            self._current = None
        # A hidden check's notes and time are the student's code's words about its inputs: never shown.
        kept_notes = () if info.hidden else tuple(log.notes)
        notes.update(dict.fromkeys(kept_notes))
        duration = 0.0 if info.hidden else time.perf_counter() - started
        result = self._result(info, exc, log, runner, submission, duration)
        digests = runner.check_digests() if direct and not runner.lost else None
        if digests is not None:
            key = self._memo_digest(check.nodeid, provided)
            for answer in digests:
                key.update(answer)
            self._memory.remember(key.digest(), (_placed(result, 0.0, None), kept_notes))
        return result

    def _recall(
        self, nodeid: str, provided: bool, runner: SubmissionRunner, index: int
    ) -> tuple[CheckResult, tuple[str, ...]] | None:
        """The verdict this check reached before from the very same answers, if any.

        A plain check (only ``student`` and ``reference``) is a function of its
        seed and of the answers it reads: the same answers, byte for byte,
        give the same verdict, message and hint. So a verdict reached from
        answers that were all planned and kept (none timed out or crashed) is
        remembered under the digests of those answers, and a later submission
        that gives the same first answers gets it without running the check
        again. Most of a class answers most checks the same way.
        """
        memo = self._memory.memo
        if not memo:
            return None
        answers = runner.planned_answers(index) if provided else []
        digest = self._memo_digest(nodeid, provided)
        known = memo.get(digest.digest())
        for answer in answers:
            if known is not None or not answer.digest:
                break
            digest.update(answer.digest)
            known = memo.get(digest.digest())
        return known

    def _memo_digest(self, nodeid: str, provided: bool) -> Any:
        """A fresh hash of a memo key, seeded with the check and whether its exercise was handed in."""
        seeded = self._memo_seeds.get((nodeid, provided))
        if seeded is None:
            seeded = self._memo_seeds[(nodeid, provided)] = hashlib.blake2b(
                f"{nodeid}\0{int(provided)}\0".encode(), digest_size=16
            )
        return seeded.copy()

    def _call_directly(self, item: pytest.Item) -> BaseException | None:
        """Run a check that takes only ``student`` and ``reference``, without pytest's set-up state.

        Those two fixtures are this plugin's own, function-scoped, with no
        finalizer: building them here is what pytest's fixture machinery would
        do, without its per-check cost (about 110 us: 6.7 ms of the 33 ms a
        student cost the grading process).
        """
        try:
            kwargs = {
                name: self._student() if name == "student" else self._check_reference()
                for name in item._fixtureinfo.argnames  # type: ignore[attr-defined]
            }
            item.obj(**kwargs)  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a check's failure is data, whatever it is
            # Without its traceback: its frames hold the check's locals (a student's 24 MB answer),
            # and this frame holds the exception, a cycle only a full collection would free.
            return exc.with_traceback(None)
        return None

    def _result(
        self,
        info: CheckInfo,
        exc: BaseException | None,
        log: CallLog,
        runner: SubmissionRunner,
        submission: Submission,
        duration: float,
    ) -> CheckResult:
        hint = ""
        if isinstance(exc, GraderError):
            raise exc  # a broken assignment or sandbox is the teacher's error, not a verdict
        if isinstance(exc, NotRecorded):
            outcome, message = Outcome.DEFERRED, NOT_RECORDED_MESSAGE.format(function=exc.function)
        elif exc is None:
            outcome, message = Outcome.PASSED, ""
        elif isinstance(exc, StudentCodeError):
            outcome, message = exc.outcome, exc.reason
            # The check's hint is about the function; it says nothing useful when the
            # function was never written or its file could not even be imported.
            if outcome is not Outcome.NOT_ATTEMPTED and not isinstance(exc, LoadFailed):
                hint = info.hint
        elif isinstance(exc, CheckFailed):
            outcome, message, hint = Outcome.FAILED, exc.message, exc.hint or info.hint
        elif isinstance(exc, AssertionError):
            outcome, message, hint = Outcome.FAILED, _first_lines(str(exc)) or "the check's assertion failed", info.hint
        else:
            # The check could not use what came back (a grader-side surprise):
            # the student gets the verdict, selftest flags the check.
            outcome = Outcome.FAILED
            message = f"the value returned could not be checked ({type(exc).__name__}: {_first_lines(str(exc))})"
            hint = info.hint
        output = log.text(runner.limits.output_bytes)
        if info.hidden:
            message = HIDDEN_MESSAGE if outcome is not Outcome.PASSED else ""
            hint = output = ""
        return CheckResult(
            exercise=info.exercise,
            function=info.function,
            name=info.name,
            outcome=outcome,
            points=info.points if outcome is Outcome.PASSED else 0.0,
            max_points=info.points,
            description=info.description,
            message=message,
            hint=hint,
            hidden=info.hidden,
            output=output,
            duration_s=duration,
            location=submission.locations.get((info.exercise, info.function)),
        )


def _after_cell_stops(
    submission: Submission, results: list[CheckResult], notes: dict[str, None], stops: tuple[CellStop, ...]
) -> tuple[list[CheckResult], dict[str, None]]:
    """Results located at the definitions that ran, and a note first for each notebook cell an error stopped."""
    if not stops:
        return results, notes
    located = [
        dataclasses.replace(result, location=submission.location_after((result.exercise, result.function), stops))
        for result in results
    ]
    return located, {**dict.fromkeys(describe_stop(stop, submission.cut_off(stop)) for stop in stops), **notes}


def _placed(result: CheckResult, duration: float, location: Location | None) -> CheckResult:
    """``result`` with another duration and location: what ``dataclasses.replace`` makes, without its work.

    A remembered verdict is placed once for each student who gives its answers (most of a
    class's checks): a copy of its fields, its time and place the submission's own, costs a
    quarter of a call of ``CheckResult``'s frozen ``__init__`` with all thirteen.
    """
    placed = object.__new__(CheckResult)
    placed.__dict__.update(result.__dict__, duration_s=duration, location=location)
    return placed


def _first_lines(text: str, limit: int = 2000) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + " ..."


_GRADER_FIXTURES = frozenset({"student", "reference"})


def _uses_only_grader_fixtures(item: pytest.Item) -> bool:
    """A plain check function whose whole fixture closure is ``student`` and/or ``reference``."""
    names = getattr(item, "fixturenames", None)
    return (
        isinstance(item, pytest.Function)
        and names is not None
        and set(names) <= _GRADER_FIXTURES
        and not hasattr(item, "callspec")
        and not list(item.iter_markers("usefixtures"))
    )


def _execute(item: pytest.Item, following: pytest.Item | None) -> BaseException | None:
    """Set up, run and tear down one check; return what it raised.

    Calls pytest's fixture set-up state directly rather than ``runtestprotocol``:
    the protocol's setup/call/teardown hooks and reports run every plugin's
    hook implementations three times per check, which measured as a third of
    the grader's own CPU per student (18-23 ms of 45-65 ms). Falls back to the
    protocol if a future pytest renames the set-up state.
    """
    state = getattr(item.session, "_setupstate", None)
    if state is None or not hasattr(item, "_initrequest"):
        item.stash[_EXC_KEY] = None  # filled by pytest_runtest_makereport
        runtestprotocol(item, log=False, nextitem=following)
        return item.stash.get(_EXC_KEY, None)
    raised: BaseException | None = None
    # As runtestprotocol does: a fresh request, so fixture values (the student
    # proxy above all) never carry over from the previous submission.
    item._initrequest()
    # Each phase is reported through pytest_runtest_makereport, as the protocol
    # does: fixtures read what their plugins record there (tmp_path's teardown
    # needs the phase results its plugin stashes).
    for when, phase in (("setup", lambda: state.setup(item)), ("call", item.runtest)):
        call = pytest.CallInfo.from_call(phase, when=when, reraise=KeyboardInterrupt)  # type: ignore[arg-type]
        item.ihook.pytest_runtest_makereport(item=item, call=call)
        if call.excinfo is not None:
            raised = call.excinfo.value
            break
    try:
        state.teardown_exact(following)
    except BaseException as exc:  # noqa: BLE001
        raised = raised or exc
    item._request = False  # type: ignore[attr-defined]
    item.funcargs = None  # type: ignore[attr-defined]
    if isinstance(raised, KeyboardInterrupt):
        raise raised
    return raised


def _is_under(file: str | None, folder: Path) -> bool:
    return file is not None and Path(file).resolve().is_relative_to(folder.resolve())


def check_seed(exercise: str, check: str, *, salt: str = "") -> int:
    """The seed a check runs under: the same for every student, run and machine.

    The teacher's grade mixes in the assignment's secret salt; a student's
    copy has none and draws the public inputs whose answers it recorded, so
    answers fitted to those inputs earn nothing in the real grade.
    """
    if not salt:
        return zlib.crc32(f"{exercise}::{check}".encode())
    digest = hashlib.blake2b(f"{salt}\0{exercise}::{check}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF


def run_session(plugin: GraderPlugin) -> None:
    """Run one pytest session over the assignment's checks with ``plugin`` driving it.

    Only the checks folder is on pytest's path, with the grader's own ini file:
    no conftest.py or pytest.ini from anywhere else (a student's included) is read.
    """
    checks_dir = plugin.assignment.checks_dir
    args = [
        str(checks_dir),
        "-c",
        str(_CHECKS_INI),
        "--rootdir",
        str(checks_dir),
        "--confcutdir",
        str(checks_dir),
        "--import-mode=importlib",
        "--disable-plugin-autoload",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
        "-p",
        "no:warnings",
        "-p",
        "no:stepwise",
        "-p",
        "no:unraisableexception",  # its gc.collect at session end costs 0.2 s per run
        "-p",
        "no:logging",  # log capture around every phase of every check: ~15% of grading time
        "-p",
        "no:threadexception",
        "-p",
        "no:faulthandler",
        "--capture=no",
    ]
    before = set(sys.modules)
    try:
        code = pytest.main(args, plugins=[plugin])
    finally:
        # pytest's importlib mode caches check modules by file name: without this, a
        # later session on another assignment with a check_<same>.py would reuse them.
        for name in set(sys.modules) - before:
            if _is_under(getattr(sys.modules[name], "__file__", None), checks_dir):
                del sys.modules[name]
    if plugin.problems:
        raise AssignmentError("the checks could not be collected:\n  " + "\n  ".join(plugin.problems))
    if plugin.crashed is not None:
        raise plugin.crashed
    if code == pytest.ExitCode.NO_TESTS_COLLECTED or not plugin.infos:
        raise AssignmentError(f"no checks found in {checks_dir}")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise AssignmentError(f"pytest could not run the checks in {checks_dir} (exit code {int(code)})")
