"""``grader selftest``: do the checks accept the reference, reject the stubs and catch every mutant?

Mutants live in ``checks/mutants/<exercise>.py`` as top-level functions named
``<function>__<slug>``: each is a plausible wrong answer. A mutant is graded
as the reference module with that one function swapped for the mutant, so a
check that catches it is one that notices exactly that mistake.
"""

from __future__ import annotations

import ast
import copy
import tempfile
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from grader.assignment import Assignment, import_file
from grader.checking import CheckFailed
from grader.grading import Grader
from grader.models import CheckResult, Outcome, Report
from grader.plugin import Job, check_seed
from grader.proxy import seed_rngs
from grader.recording import write_student_copy
from grader.student_copy import read_student_copy
from grader.submission import Submission, build_submission

MUTANTS_DIR = "mutants"
_REFERENCE = "reference"
_STUBS = "stubs"


@dataclass(frozen=True)
class Mutant:
    exercise: str
    function: str
    name: str  # "<function>__<slug>"
    source: bytes  # the module the worker imports: reference + mutant, function rebound
    line: int

    @property
    def student(self) -> str:
        return f"mutant:{self.exercise}:{self.name}"


@dataclass(frozen=True)
class MutantResult:
    mutant: Mutant
    caught_by: tuple[str, ...]

    @property
    def caught(self) -> bool:
        return bool(self.caught_by)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.mutant.exercise,
            "function": self.mutant.function,
            "name": self.mutant.name,
            "caught": self.caught,
            "caught_by": list(self.caught_by),
        }


@dataclass(frozen=True)
class SelftestResult:
    assignment: str
    #: Checks that did not pass on the reference solutions: "exercise::check: reason".
    reference_failures: tuple[str, ...]
    #: Checks that were not ``not_attempted`` on the stubs.
    stub_failures: tuple[str, ...]
    checks: int
    mutants: tuple[MutantResult, ...]
    #: Functions with no mutant at all, and broken mutant files.
    problems: tuple[str, ...] = field(default=())
    #: The same, graded against the student's copy (public inputs, recorded reference answers).
    copy: CopyCheck | None = None

    @property
    def ok(self) -> bool:
        return (
            not self.reference_failures
            and not self.stub_failures
            and not self.problems
            and all(m.caught for m in self.mutants)
            and (self.copy is None or self.copy.ok)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "ok": self.ok,
            "checks": self.checks,
            "reference": {"failures": list(self.reference_failures)},
            "stubs": {"failures": list(self.stub_failures)},
            "mutants": [m.to_dict() for m in self.mutants],
            "uncaught": [m.mutant.name for m in self.mutants if not m.caught],
            "problems": list(self.problems),
            "student_copy": self.copy.to_dict() if self.copy is not None else None,
        }


@dataclass(frozen=True)
class CopyCheck:
    """The assignment graded against its own student copy, beside the teacher's grade.

    The copy must give the reference full marks with nothing left to the
    teacher (but hidden checks), the stubs nothing, and never contradict the
    teacher's grade: on every check it judges, each mutant gets the verdict the
    teacher's salted inputs give it.
    """

    #: Public checks the reference does not pass against the copy.
    reference_failures: tuple[str, ...]
    #: Checks that were not ``not_attempted`` on the stubs.
    stub_failures: tuple[str, ...]
    #: "mutant: exercise::check: passed here, failed in the teacher's grade" and the like.
    contradictions: tuple[str, ...]
    #: Mutants the copy catches itself (a check of their function fails locally).
    mutants_caught: int
    #: Checks of mutants the copy judged, and those it left to the teacher.
    judged: int
    deferred: int

    @property
    def ok(self) -> bool:
        return not self.reference_failures and not self.stub_failures and not self.contradictions

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reference": {"failures": list(self.reference_failures)},
            "stubs": {"failures": list(self.stub_failures)},
            "contradictions": list(self.contradictions),
            "mutants_caught": self.mutants_caught,
            "judged": self.judged,
            "deferred": self.deferred,
        }


def find_mutants(assignment: Assignment) -> tuple[list[Mutant], list[str]]:
    """Every mutant of the assignment, and problems (unparseable files, unknown functions)."""
    mutants: list[Mutant] = []
    problems: list[str] = []
    for exercise in assignment.exercises:
        path = assignment.checks_dir / MUTANTS_DIR / f"{exercise.name}.py"
        if not path.is_file():
            problems.append(f"{exercise.name}: no mutants ({path} is missing)")
            continue
        source = path.read_bytes()
        try:
            tree = ast.parse(source, filename=str(path))
        except SyntaxError as exc:
            problems.append(f"{path}, line {exc.lineno}: {exc.msg}")
            continue
        if exercise.solution is None:
            problems.append(f"{exercise.name}: no reference solution (a student copy cannot be selftested)")
            continue
        reference = exercise.solution.read_bytes()
        covered = set()
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or "__" not in node.name.strip("_"):
                continue
            function, _, _slug = node.name.partition("__")
            if function not in exercise.functions:
                problems.append(f"{path}, line {node.lineno}: {node.name} names no function of {exercise.name}")
                continue
            covered.add(function)
            module = reference + b"\n\n" + source + f"\n\n{function} = {node.name}\n".encode()
            mutants.append(Mutant(exercise.name, function, node.name, module, node.lineno))
        problems += [f"{exercise.name}.{f}: no mutant" for f in exercise.functions if f not in covered]
    return mutants, problems


def selftest(assignment: Assignment, grader: Grader, *, student_copy: bool = True) -> SelftestResult:
    """Grade the reference, the stubs and every mutant in one session; then again against the student's copy."""
    mutants, problems = find_mutants(assignment)
    by_student = {m.student: m for m in mutants}
    reports = _grade_all(assignment, grader, assignment, mutants)
    reference = reports[_REFERENCE]
    stubs = reports[_STUBS]
    results = []
    for student, mutant in by_student.items():
        report = reports[student]
        caught_by = tuple(c.name for c in report.checks if not c.outcome.ok and c.function == mutant.function)
        results.append(MutantResult(mutant, caught_by))
    reference_failures = tuple(
        _failure(assignment, c, diagnose=c.outcome in (Outcome.FAILED, Outcome.ERROR))
        for c in reference.checks
        if not c.outcome.ok
    )
    return SelftestResult(
        assignment=assignment.title,
        reference_failures=reference_failures,
        stub_failures=tuple(_failure(assignment, c) for c in stubs.checks if c.outcome is not Outcome.NOT_ATTEMPTED),
        checks=len(reference.checks),
        mutants=tuple(results),
        problems=tuple(problems),
        # A check the reference fails has no answer to record: mend the assignment first.
        copy=_against_copy(assignment, grader, mutants, reports) if student_copy and not reference_failures else None,
    )


def _grade_all(
    assignment: Assignment, grader: Grader, graded_with: Assignment, mutants: list[Mutant]
) -> dict[str, Report]:
    """The reference, the stubs and every mutant, graded by ``grader`` (on ``graded_with``), by student name."""
    reports: dict[str, Report] = {}

    def jobs() -> Iterator[Job]:
        yield Job(_folder(assignment, "solution", _REFERENCE, graded_with), graded_with.names)
        yield Job(_folder(assignment, "stub", _STUBS, graded_with), graded_with.names)
        for mutant in mutants:
            files = {f"{mutant.exercise}.py": mutant.source}
            yield Job(build_submission(files, graded_with, name=mutant.student), (mutant.exercise,))

    grader.run(jobs(), lambda report: reports.__setitem__(report.student, report))
    return reports


def _against_copy(
    assignment: Assignment, grader: Grader, mutants: list[Mutant], teacher: dict[str, Report]
) -> CopyCheck:
    """Write the student's copy, grade the same submissions against it, and compare with the teacher's grade."""
    with tempfile.TemporaryDirectory(prefix="grader-selftest-") as folder:
        path, _ = write_student_copy(assignment, Path(folder))
        copy = read_student_copy(path)
        local = _grade_all(assignment, grader.sharing(copy), copy, mutants)
    reference = local[_REFERENCE]
    contradictions = []
    judged = deferred = caught = 0
    for mutant in mutants:
        theirs = {c.id: c.outcome for c in teacher[mutant.student].checks}
        ours = local[mutant.student].checks
        caught += any(
            c.function == mutant.function and c.outcome not in (Outcome.PASSED, Outcome.DEFERRED) for c in ours
        )
        for check in ours:
            if check.outcome is Outcome.DEFERRED:
                deferred += 1
                continue
            judged += 1
            # A verdict is a pass or not: a wrong value may raise on one input and not on another.
            if check.id in theirs and (theirs[check.id] is Outcome.PASSED) != (check.outcome is Outcome.PASSED):
                contradictions.append(
                    f"{mutant.exercise}.{mutant.name}: {check.exercise}::{check.name}: {check.outcome.label} "
                    f"against the student copy, {theirs[check.id].label} in the teacher's grade"
                )
    return CopyCheck(
        reference_failures=tuple(
            _failure(assignment, c) for c in reference.checks if not c.outcome.ok and not c.hidden
        ),
        stub_failures=tuple(
            _failure(assignment, c) for c in local[_STUBS].checks if c.outcome is not Outcome.NOT_ATTEMPTED
        ),
        contradictions=tuple(contradictions),
        mutants_caught=caught,
        judged=judged,
        deferred=deferred,
    )


def _failure(assignment: Assignment, result: CheckResult, *, diagnose: bool = False) -> str:
    """``exercise::check (checks/check_x.py, line N): outcome: message``, plus where the reference run raised."""
    message = result.message.splitlines()[0] if result.message else ""
    where = _check_location(assignment, result)
    text = f"{result.exercise}::{result.name} ({where}): {result.outcome.value}: {message}"
    raised = _where_it_raises(assignment, result) if diagnose else ""
    return f"{text}; {raised}" if raised else text


def _relative(assignment: Assignment, path: Path) -> str:
    try:
        return str(path.resolve().relative_to(assignment.root))
    except ValueError:
        return str(path)


def _check_location(assignment: Assignment, result: CheckResult) -> str:
    path = assignment.exercise(result.exercise).checks
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError):
        return _relative(assignment, path)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == f"check_{result.name}":
            return f"{_relative(assignment, path)}, line {node.lineno}"
    return _relative(assignment, path)


class _LocalFunction:
    def __init__(self, function: Any) -> None:
        self._function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function(*copy.deepcopy(args), **copy.deepcopy(kwargs))

    def returning_args(self, *args: Any, **kwargs: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        args, kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
        return self._function(*args, **kwargs), args, kwargs

    def in_sequence(self, calls: Any) -> list[Any]:
        return [self._function(*args, **kwargs) for args, kwargs in copy.deepcopy(list(calls))]


class _LocalStudent:
    """The reference standing in for the student, called in this process, so a traceback says where it broke."""

    def __init__(self, module: ModuleType) -> None:
        self._module = module

    def __getattr__(self, name: str) -> _LocalFunction:
        if name.startswith("__"):
            raise AttributeError(name)
        return _LocalFunction(getattr(self._module, name))


def _where_it_raises(assignment: Assignment, result: CheckResult) -> str:
    """Re-run a check the reference failed, in this process, and name the assignment's line that raised.

    The grading run only keeps a message, and for an exception in the check or
    in the reference it reads like the student's fault ("the value returned
    could not be checked"); the teacher needs the file and line instead.
    Returns "" when the re-run raises nothing, or only a check's own failure.
    """
    exercise = assignment.exercise(result.exercise)
    try:
        assert exercise.solution is not None
        reference = import_file(exercise.solution, f"_selftest_reference_{exercise.name}")
        checks = import_file(exercise.checks, f"_selftest_checks_{exercise.name}")
        function = getattr(checks, f"check_{result.name}")
        seed_rngs(check_seed(result.exercise, result.name, salt=assignment.salt))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            function(student=_LocalStudent(reference), reference=reference)
    except (CheckFailed, AssertionError):
        return ""
    except Exception as exc:  # noqa: BLE001 - the teacher's code raised: report where
        root = assignment.root
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve().is_relative_to(root)]
        detail = f"{type(exc).__name__}: {exc}".strip()
        if not frames:
            return f"it raises {detail}"
        frame = frames[-1]
        return f"it raises {detail} at {_relative(assignment, Path(frame.filename))}, line {frame.lineno}"
    return ""


def _folder(assignment: Assignment, kind: str, name: str, graded_with: Assignment) -> Submission:
    files = {}
    for exercise in assignment.exercises:
        path = exercise.solution if kind == "solution" else exercise.stub
        assert path is not None  # selftest runs on the full assignment only
        files[f"{exercise.name}.py"] = path.read_bytes()
    return build_submission(files, graded_with, name=name)


def render_selftest(result: SelftestResult) -> str:
    """Plain-text summary: what is off first, then each function's mutants and the checks that catch them."""
    lines = [f"selftest of {result.assignment}: {result.checks} checks, {len(result.mutants)} mutants"]
    lines.append(f"  reference solutions: {result.checks - len(result.reference_failures)}/{result.checks} checks pass")
    lines += [f"    NOT PASSING on the reference: {f}" for f in result.reference_failures]
    lines.append(f"  stubs: {result.checks - len(result.stub_failures)}/{result.checks} checks are not_attempted")
    lines += [f"    NOT not_attempted on the stubs: {f}" for f in result.stub_failures]
    caught = sum(1 for m in result.mutants if m.caught)
    lines.append(f"  mutants: {caught}/{len(result.mutants)} caught")
    for mutant in result.mutants:
        verdict = f"caught by {', '.join(mutant.caught_by)}" if mutant.caught else "NOT CAUGHT by any check"
        lines.append(f"    {mutant.mutant.exercise}.{mutant.mutant.name}: {verdict}")
    lines += [f"  problem: {p}" for p in result.problems]
    copy = result.copy
    if copy is not None:
        total = copy.judged + copy.deferred
        share = f"{100 * copy.judged / total:.0f}%" if total else "all"
        lines.append(
            f"  student copy: reference {'passes every public check' if not copy.reference_failures else 'FAILS'}, "
            f"{copy.mutants_caught}/{len(result.mutants)} mutants caught locally, {share} of their checks judged "
            f"locally, {len(copy.contradictions)} contradictions with the teacher's grade"
        )
        lines += [f"    NOT PASSING on the reference against the copy: {f}" for f in copy.reference_failures]
        lines += [f"    NOT not_attempted on the stubs against the copy: {f}" for f in copy.stub_failures]
        lines += [f"    CONTRADICTION: {c}" for c in copy.contradictions]
    lines.append("selftest passed" if result.ok else "selftest FAILED")
    return "\n".join(lines) + "\n"
