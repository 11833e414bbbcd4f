"""The ``student`` object a check sees: calls that run in the sandbox and return plain data."""

from __future__ import annotations

import contextlib
import copy
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from grader import codec
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
from grader.sandbox.runner import STALE_MESSAGE, CallResult, SubmissionRunner

#: Notes one check keeps on how a returned model was graded.
MAX_NOTES = 8


@dataclass
class CallLog:
    """What the student's code printed during one check, call by call."""

    outputs: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0
    #: How a returned module of the student's own class was graded, one line each, in order.
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        # A model of thousands of layers, each of its own class, must not make thousands of notes.
        if text not in self.notes and len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def text(self, limit: int) -> str:
        parts = [f"[{function}]\n{output}" if len(self.outputs) > 1 else output for function, output in self.outputs]
        text = "\n".join(parts)
        if len(text) > limit:
            text = text[:limit] + f"\n... [{len(text) - limit} more characters not shown]"
        return text


class StudentModule:
    """Stands for the student's module of one exercise; attribute access gives a callable."""

    def __init__(
        self,
        runner: SubmissionRunner,
        exercise: str,
        *,
        provided: bool,
        seed: int,
        log: CallLog,
        contract: Callable[[str], str] | None = None,
        reference_s: Callable[[str, tuple[Any, ...], dict[str, Any]], float | None] | None = None,
    ) -> None:
        self._runner = runner
        self._exercise = exercise
        self._provided = provided
        self._seed = seed
        self._log = log
        #: What a function must return, in the stub's words: read only when a value is refused.
        self._contract = contract
        #: The reference's CPU time on a call's arguments (function, args, kwargs), asked when the call runs long.
        self._reference_s = reference_s

    def __getattr__(self, name: str) -> StudentFunction:
        if name.startswith("__"):
            raise AttributeError(name)
        return StudentFunction(self, name)

    def __repr__(self) -> str:
        return f"<student module {self._exercise}>"

    def _call(
        self, function: str, args: tuple[Any, ...], kwargs: dict[str, Any], *, return_args: bool, sequence: bool = False
    ) -> Any:
        if not self._provided:
            raise NotAttempted(NOT_SUBMITTED_MESSAGE.format(exercise=self._exercise))
        timing = self._reference_s
        original = args, kwargs
        args, kwargs = self._by_handle(function, args, kwargs)
        result = self._runner.call(
            self._exercise,
            function,
            args,
            kwargs,
            seed=self._next_seed(),
            return_args=return_args,
            sequence=sequence,
            reference_s=None if timing is None else lambda: _timed(timing, function, *original, sequence=sequence),
        )
        return self._value(function, function, result)

    def _next_seed(self) -> int:
        log = self._log
        seed = (self._seed + 1_000_003 * log.calls) % 2**31
        log.calls += 1
        return seed

    def _value(self, function: str, caller: str, result: CallResult) -> Any:
        """The value of a call, its modules that stayed in the worker connected back to it; or the failure."""
        if result.output:
            self._log.outputs.append((caller, result.output))
        if result.status != "ok":
            contract = self._contract(function) if self._contract is not None and result.status == "unsupported" else ""
            raise _failure(self._exercise, caller, result, contract=contract)
        for forward in codec.remote_forwards(result.value):
            if forward.caller is None:
                forward.caller = partial(self._call_remote, function)
        self._note(function, result.value)
        return result.value

    def _note(self, function: str, value: Any) -> None:
        if not isinstance(value, nn.Module):
            return
        for module in value.modules():
            name = codec.student_class(module)
            remote = codec.remote_forward(module)
            where = f"{self._exercise}.{function} returned"
            if remote is not None:
                what = f"your class {name}" if name else f"an {remote.label}"
                self._log.note(f"{where} {what} ({remote.why}): it was graded by running it in the sandbox")
            elif name is not None:
                base = type(module).__name__
                self._log.note(
                    f"{where} your class {name}, which changes nothing nn.{base} does: it was graded as that nn.{base}"
                )

    def _call_remote(
        self,
        function: str,
        forward: codec.RemoteForward,
        module: nn.Module,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        """``model(x)`` for a model whose code stayed in the worker: run it there, with this side's parameters."""
        caller = f"the {forward.label} that {function} returned"
        args, kwargs = self._by_handle(caller, args, kwargs)
        result = self._runner.call_handle(
            forward.owner,
            forward.handle,
            args,
            kwargs,
            state=codec.module_state(module),
            training=module.training,
            grad=torch.is_grad_enabled(),
            seed=self._next_seed(),
        )
        return self._value(function, caller, result)

    def _by_handle(
        self, caller: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """A model from the worker, passed back to it, is sent as its handle: the worker calls its own object."""
        forwards = codec.remote_forwards((args, kwargs))
        if not forwards:
            return args, kwargs
        for forward in forwards:
            if not self._runner.holds(forward.owner):
                raise StudentCrashed(f"{caller}: the {forward.label} passed to it {STALE_MESSAGE}")
        return tuple(_handle_refs(a) for a in args), {k: _handle_refs(v) for k, v in kwargs.items()}


def _handle_refs(value: Any) -> Any:
    if isinstance(value, nn.Module):
        forward = codec.remote_forward(value)
        if forward is None:
            return value  # a trusted module, perhaps holding remote ones: pickled as is (see RemoteForward)
        return codec.HandleRef(forward.handle, codec.module_state(value), value.training)
    if type(value) in (list, tuple):
        return type(value)(_handle_refs(v) for v in value)
    if type(value) is dict:
        return {k: _handle_refs(v) for k, v in value.items()}
    return value


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

    def in_sequence(self, calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
        """Make ``calls`` (``(args, kwargs)`` pairs) one after another in the same worker; their results, in order.

        One request: the worker makes every call, then sends every result as it
        is after the last one, so a result that a later call refilled in place
        (or a module it re-initialised) arrives refilled. Objects shared between
        results (a module, a parameter) arrive shared. A call that raises fails
        the whole sequence, as a single call would.
        """
        steps = tuple((tuple(args), dict(kwargs)) for args, kwargs in calls)
        values = self._module._call(self._name, steps, {}, return_args=False, sequence=True)
        return list(values)

    def __repr__(self) -> str:
        return f"<student function {self._name}>"


def sequence_seconds(
    seconds: Callable[[str, tuple[Any, ...], dict[str, Any]], float | None],
    function: str,
    steps: tuple[tuple[tuple[Any, ...], dict[str, Any]], ...],
) -> float | None:
    """The reference's time for the steps of one ``in_sequence`` request: each step's, added; None if any is unknown."""
    total = 0.0
    for args, kwargs in steps:
        step = seconds(function, args, kwargs)
        if step is None:
            return None
        total += step
    return total


def _timed(
    timing: Callable[[str, tuple[Any, ...], dict[str, Any]], float | None],
    function: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    sequence: bool,
) -> float | None:
    return sequence_seconds(timing, function, args) if sequence else timing(function, args, kwargs)


def reference_seconds(module: ModuleType, function: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> float | None:
    """CPU time the reference's ``function`` takes on copies of these arguments; None if it has no such function.

    Asked while a student's call is running long, in the middle of a check: the
    check's random streams are restored afterwards, so its later inputs are the
    same whether or not the reference was timed. CPU time, so a busy machine does
    not inflate it.
    """
    target = getattr(module, function, None)
    if not callable(target):
        return None
    try:
        with kept_rngs():
            args, kwargs = copy.deepcopy((args, kwargs))
            started = time.thread_time()
            with contextlib.suppress(Exception):  # an input the reference rejects still took its time
                target(*args, **kwargs)
            return time.thread_time() - started
    except Exception:  # noqa: BLE001 - arguments that cannot be copied: no reference time
        return None


def seed_rngs(seed: int) -> None:
    """Seed every generator a check may draw inputs from (and that a worker seeds for each call).

    Not ``torch.manual_seed``: it also queues a lazy CUDA seeding call, with a
    formatted stack trace, every time CUDA is not initialised (once per check).
    """
    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


@contextlib.contextmanager
def kept_rngs() -> Iterator[None]:
    """Leave the check's random streams as they were, whatever runs inside (the reference, timed or recorded)."""
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        random.setstate(states[1])
        np.random.set_state(states[2])


def _failure(exercise: str, function: str, result: CallResult, *, contract: str = "") -> StudentCodeError:
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
        return StudentTimeout(f"{function} {result.message}", output=output)
    if status in ("crashed", "oom"):
        return StudentCrashed(f"{function} {result.message}", output=output)
    if status == "unsupported":
        asks = f". The contract asks: {contract}" if contract else ""
        return UnsupportedValue(f"{function} {result.message}{asks}", output=output)
    if status == "stale":
        return StudentCrashed(f"{function} {result.message}", output=output)
    if status == "raised":
        detail = f"\n{result.traceback}" if result.traceback else ""
        return student_raised(
            result.type_name,
            result.bases,
            f"{function} raised {result.type_name}: {result.message}{detail}",
            output=output,
        )
    return StudentCrashed(f"{function}: unexpected sandbox answer {status!r}", output=output)
