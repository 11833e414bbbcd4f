"""The ``student`` object a check sees: calls that run in the sandbox and return plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.checking import (
    LoadFailed,
    NotAttempted,
    StudentCodeError,
    StudentCrashed,
    StudentTimeout,
    UnsupportedValue,
    student_raised,
)
from grader.models import NOT_SUBMITTED_MESSAGE
from grader.sandbox.runner import CallResult, SubmissionRunner


@dataclass
class CallLog:
    """What the student's code printed during one check, call by call."""

    outputs: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0

    def text(self, limit: int) -> str:
        parts = [f"[{function}]\n{output}" if len(self.outputs) > 1 else output for function, output in self.outputs]
        text = "\n".join(parts)
        if len(text) > limit:
            text = text[:limit] + f"\n... [{len(text) - limit} more characters not shown]"
        return text


class StudentModule:
    """Stands for the student's module of one exercise; attribute access gives a callable."""

    def __init__(self, runner: SubmissionRunner, exercise: str, *, provided: bool, seed: int, log: CallLog) -> None:
        self._runner = runner
        self._exercise = exercise
        self._provided = provided
        self._seed = seed
        self._log = log

    def __getattr__(self, name: str) -> StudentFunction:
        if name.startswith("__"):
            raise AttributeError(name)
        return StudentFunction(self, name)

    def __repr__(self) -> str:
        return f"<student module {self._exercise}>"

    def _call(self, function: str, args: tuple[Any, ...], kwargs: dict[str, Any], *, return_args: bool) -> Any:
        if not self._provided:
            raise NotAttempted(NOT_SUBMITTED_MESSAGE.format(exercise=self._exercise))
        log = self._log
        seed = (self._seed + 1_000_003 * log.calls) % 2**31
        log.calls += 1
        result = self._runner.call(self._exercise, function, args, kwargs, seed=seed, return_args=return_args)
        if result.output:
            log.outputs.append((function, result.output))
        if result.status == "ok":
            return result.value
        raise _failure(self._exercise, function, result)


class StudentFunction:
    def __init__(self, module: StudentModule, name: str) -> None:
        self._module = module
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._module._call(self._name, args, kwargs, return_args=False)

    def returning_args(self, *args: Any, **kwargs: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        """Call, and also get the arguments back as they were in the worker after the call."""
        value, args_after, kwargs_after = self._module._call(self._name, args, kwargs, return_args=True)
        return value, tuple(args_after), dict(kwargs_after)

    def __repr__(self) -> str:
        return f"<student function {self._name}>"


def _failure(exercise: str, function: str, result: CallResult) -> StudentCodeError:
    status = result.status
    output = result.output
    if status == "not_implemented":
        return NotAttempted(f"{function} still raises NotImplementedError: it has not been written yet", output=output)
    if status == "missing":
        return NotAttempted(f"{function} is not defined in {exercise}.py", output=output)
    if status == "load_failed":
        detail = f"\n{result.traceback}" if result.traceback else ""
        return LoadFailed(f"{exercise}.py could not be loaded: {result.message}{detail}", output=output)
    if status == "timeout":
        return StudentTimeout(f"{function} {result.message} (an infinite loop, or far too slow?)", output=output)
    if status in ("crashed", "oom"):
        return StudentCrashed(f"{function} {result.message}", output=output)
    if status == "unsupported":
        return UnsupportedValue(f"{function} {result.message}", output=output)
    if status == "raised":
        detail = f"\n{result.traceback}" if result.traceback else ""
        return student_raised(
            result.type_name,
            result.bases,
            f"{function} raised {result.type_name}: {result.message}{detail}",
            output=output,
        )
    return StudentCrashed(f"{function}: unexpected sandbox answer {status!r}", output=output)
