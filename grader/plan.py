"""What each check asks of a student's code, recorded once against the reference solution.

A check draws its inputs from its own seed, so the calls it makes to an
answer that is right are the same for every student. Running each check
once with the reference standing in for the student records those calls
(``PlannedCall``: the request's bytes). A grading process then hands a
submission's whole plan to its runner (``SubmissionRunner.expect``), which
sends the planned calls to the worker in one exchange instead of one round
trip per call. A check that goes another way for some student (its later
inputs depend on a wrong answer) simply makes those calls one by one, as
every call was made before: the plan changes how calls travel, never what a
check sees.

The reference runs here, in the grader's own process, as it does in every
check; nothing of it is sent anywhere. Only the requests are kept.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from typing import Any

from grader.proxy import kept_rngs, seed_rngs, sequence_seconds
from grader.sandbox.request import in_sequence, pack_request
from grader.sandbox.runner import STALE_MESSAGE, CallResult, PlannedCall, call_request


class RecordingRunner:
    """Stands in for a ``SubmissionRunner`` while a check runs against the reference: records each call, answers it.

    The reference gets a copy of the arguments, as a worker would, under the
    call's own seed, and the check's random streams are restored afterwards
    so its later inputs are those it draws when grading a student.
    """

    layers: tuple[str, ...] = ()

    def __init__(
        self,
        reference: Callable[[str], Any],
        seconds: Callable[[str, tuple[Any, ...], dict[str, Any]], float | None],
    ) -> None:
        #: The exercise's reference, by module name: its solution, or a student copy's recorded answers.
        self._reference = reference
        #: The reference's CPU time on a call's arguments (see ``StudentModule``).
        self._seconds = seconds
        self.calls: list[PlannedCall] = []

    def call(
        self,
        module: str,
        function: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        seed: int,
        return_args: bool = False,
        sequence: bool = False,
        timeout_s: float | None = None,
        reference_s: Callable[[], float | None] | None = None,
    ) -> CallResult:
        request = pack_request(
            call_request(module, function, args, kwargs, seed=seed, return_args=return_args, sequence=sequence)
        )
        solution = self._reference(module)
        self.calls.append(PlannedCall(module, function, request, _timing(self._seconds, function, request)))
        return _answer(solution, function, request, seed)

    def holds(self, owner: int | None) -> bool:
        return False

    def call_handle(self, owner: int | None, handle: int, *args: Any, **kwargs: Any) -> CallResult:
        return CallResult("stale", message=STALE_MESSAGE)  # a reference's model is never left in a worker


def _timing(
    seconds: Callable[[str, tuple[Any, ...], dict[str, Any]], float | None], function: str, request: bytes
) -> Callable[[], float | None]:
    def reference_s() -> float | None:
        message = pickle.loads(request)  # this module's own bytes, made just above
        if message.get("sequence"):  # the steps of one request, timed together
            return sequence_seconds(seconds, function, message["args"])
        return seconds(function, message["args"], message["kwargs"])

    return reference_s


def _answer(solution: Any, function: str, request: bytes, seed: int) -> CallResult:
    """What the reference answers to ``request``, as a worker would run it."""
    target = getattr(solution, function, None)
    if not callable(target):
        return CallResult("missing")
    message = pickle.loads(request)  # this module's own bytes: a fresh copy of the arguments
    args, kwargs = message["args"], message["kwargs"]
    if message.get("sequence"):
        target = in_sequence(target)
    try:
        with kept_rngs():
            seed_rngs(seed)  # as the worker does before each call
            value = target(*args, **kwargs)
    except NotImplementedError:
        return CallResult("not_implemented")
    except Exception as exc:  # noqa: BLE001 - the reference's answer to this input, as data
        bases = tuple(c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins")
        return CallResult("raised", message=str(exc), type_name=type(exc).__qualname__, bases=bases)
    return CallResult("ok", value=(value, args, kwargs) if message["return_args"] else value)
