"""The ``reference`` a check sees: the reference solution run here, or its answers recorded in a student's copy.

A check calls ``reference.apply_softmax(x, dim=1)`` the way it calls the
student. On the teacher's side (``LiveReference``) that runs the reference
solution in the grading process, as it always has; when a student's copy of
the assignment is written, the same object records every answer it gives.
On a student's machine (``RecordedReference``) the answer comes from that
recording, looked up by the exact bytes of the request: a request the copy
did not record (one built from a student's own wrong answer) raises
``NotRecorded``, and the check is left to the teacher's grade.

So that a recorded answer is the one the check would have computed, every
reference call runs under its own seed and leaves the check's random
streams as they were: a check draws the same inputs whether its reference
ran here, was recorded, or was answered from a recording.
"""

from __future__ import annotations

import builtins
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

from grader import codec
from grader.assignment import Answer
from grader.proxy import kept_rngs, seed_rngs
from grader.sandbox.request import pack_request

#: A recorded reference call's CPU time is kept only from this long on, rounded up to 1, 2 or 5
#: times a power of ten: it matters only to slow exercises' time budgets, and a shorter one
#: would make two recordings of the same assignment differ by noise.
RECORDED_SECONDS_FLOOR = 0.05
#: Builtin exceptions a recorded reference may raise again (``stack_layers([3])`` raises ValueError).
RAISABLE = frozenset(
    {"ValueError", "TypeError", "IndexError", "KeyError", "RuntimeError", "ZeroDivisionError", "AssertionError"}
)


class NotRecorded(BaseException):
    """The student's copy holds no reference answer for this request; the teacher's grade judges the check.

    A ``BaseException``, as ``KeyboardInterrupt`` is: a check that catches
    ``Exception`` around a reference call must not turn "cannot judge here"
    into a pass or a fail.
    """

    def __init__(self, function: str) -> None:
        super().__init__(function)
        self.function = function


def request_key(function: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The identity of a reference call: its function and the exact bytes of its arguments."""
    blob = pack_request({"function": function, "args": args, "kwargs": dict(kwargs)})
    return hashlib.blake2b(blob, digest_size=16).hexdigest()


def reference_seed(check_seed: int) -> int:
    """The seed a check's reference calls run under (a reference that builds layers draws their weights)."""
    return (check_seed * 2_654_435_761 + 97) % 2**31


@dataclass
class Recording:
    """Every reference answer one check received, by request key (see ``request_key``)."""

    answers: dict[str, Answer] = field(default_factory=dict)
    #: Requests whose answer could not be recorded (a value the codec cannot carry), by function.
    unrecordable: dict[str, str] = field(default_factory=dict)

    def keep(self, key: str, function: str, answer: Callable[[], Answer]) -> None:
        if key in self.answers or key in self.unrecordable:
            return
        try:
            self.answers[key] = answer()
        except codec.Unsupported as exc:
            self.unrecordable[key] = f"{function}: {exc}"


class LiveReference:
    """The reference solution of one exercise, run in this process; optionally recording what it answers."""

    def __init__(self, module: ModuleType, *, seed: int, recording: Recording | None = None) -> None:
        self._module = module
        self._seed = reference_seed(seed)
        self._recording = recording

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._module, name)
        if not callable(target) or name.startswith("_"):
            return target
        return partial(self._call, name, target)

    def __repr__(self) -> str:
        return f"<reference {self._module.__name__}>"

    def _call(self, name: str, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        recording = self._recording
        try:
            key = request_key(name, args, kwargs) if recording is not None else ""
        except Exception as exc:  # noqa: BLE001 - arguments that cannot be keyed: the copy defers this call
            if recording is not None:
                recording.unrecordable[f"unkeyed {len(recording.unrecordable)}"] = (
                    f"{name}: its arguments cannot be recorded ({exc})"
                )
            recording = None
        with kept_rngs():
            seed_rngs(self._seed)
            started = time.thread_time()
            try:
                value = target(*args, **kwargs)
            except Exception as exc:
                if recording is not None:
                    recording.keep(key, name, partial(_raised, name, exc))
                raise
            spent = time.thread_time() - started
        if recording is not None:
            recording.keep(key, name, lambda: Answer(value=codec.encode(value), seconds=_rounded(spent)))
        return value


class RecordedReference:
    """A check's reference on a student's machine: each answer comes from the recording, decoded afresh."""

    def __init__(self, answers: Mapping[str, Answer], *, exercise: str) -> None:
        self._answers = answers
        self._exercise = exercise

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return partial(self._call, name)

    def __repr__(self) -> str:
        return f"<recorded reference {self._exercise}>"

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            answer = self._answers.get(request_key(name, args, kwargs))
        except Exception:  # noqa: BLE001 - arguments that cannot be keyed were not recorded either
            answer = None
        if answer is None:
            raise NotRecorded(name)
        if answer.raised is not None:
            kind, message = answer.raised
            raise getattr(builtins, kind)(message)
        return codec.decode(answer.value)

    def seconds(self, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> float | None:
        """The recorded CPU time of this call on the teacher's machine, if it was long enough to keep."""
        try:
            answer = self._answers.get(request_key(name, args, kwargs))
        except Exception:  # noqa: BLE001
            return None
        return None if answer is None else answer.seconds


def _raised(function: str, exc: Exception) -> Answer:
    kind = type(exc).__name__
    if type(exc) is not getattr(builtins, kind, None) or kind not in RAISABLE:
        raise codec.Unsupported(f"raised {kind}, which a recording cannot raise again")
    return Answer(raised=(kind, str(exc)[:2000]))


def _rounded(seconds: float) -> float | None:
    if seconds < RECORDED_SECONDS_FLOOR:
        return None
    step = 10.0 ** int(f"{seconds:e}".split("e")[1])
    return next(m * step for m in (1, 2, 5, 10) if m * step >= seconds)
