"""The check-authoring API: how a check declares itself and how it fails.

A check is an ordinary pytest function in ``checks/check_<exercise>.py``::

    from grader.checking import check
    from grader.assertions import assert_tensor_close

    @check("apply_softmax", points=2, hint="Softmax rows must sum to 1.")
    def check_softmax_rows(student, reference):
        x = torch.randn(4, 7)
        assert_tensor_close(student.apply_softmax(x, dim=1), reference.apply_softmax(x, dim=1))

``student`` is a proxy: ``student.apply_softmax(...)`` runs in a sandboxed
worker and returns plain data, or raises one of the ``StudentCodeError``
classes below, which the plugin turns into the check's outcome.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from grader.models import Outcome

F = TypeVar("F", bound=Callable[..., Any])

MARKER = "grader"


def check(
    function: str,
    *,
    points: float = 1.0,
    hidden: bool = False,
    hint: str = "",
) -> Callable[[F], F]:
    """Declare a check of ``function`` worth ``points``.

    ``hint`` is a general hint shown when the check fails and the failure
    carries no more specific one. A ``hidden`` check shows only its name and
    verdict: never its inputs, expected values or the student's output.
    """
    if points < 0:
        raise ValueError("points must be >= 0")
    return pytest.mark.grader(function=function, points=float(points), hidden=hidden, hint=hint)


class CheckFailed(AssertionError):
    """A check's assertion failed: ``message`` says expected vs got, ``hint`` the likely mistake."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def fail(message: str, *, hint: str = "") -> None:
    """Fail the current check with a message (and optionally a targeted hint)."""
    raise CheckFailed(message, hint=hint)


class StudentCodeError(Exception):
    """The student's code, called through the proxy, did not return a value.

    Raised in the trusted process; ``outcome`` is what the check becomes if the
    check lets it propagate, ``reason`` a sentence a student understands.
    """

    outcome: Outcome = Outcome.ERROR

    def __init__(self, reason: str, *, output: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.output = output


class NotAttempted(StudentCodeError):
    """The function is missing or still raises the stub's NotImplementedError."""

    outcome = Outcome.NOT_ATTEMPTED


class StudentRaised(StudentCodeError):
    """The student's function raised an exception.

    Instances are of a subclass that also derives from the builtin exception
    the student raised (``ValueError`` ...), so a check can write
    ``with pytest.raises(ValueError): student.stack_layers([3])``.
    """

    outcome = Outcome.ERROR
    type_name: str = "Exception"


class StudentTimeout(StudentCodeError):
    """The call ran past its time budget; the worker was killed."""

    outcome = Outcome.TIMEOUT


class StudentCrashed(StudentCodeError):
    """The worker died during the call (segfault, out of memory, exit)."""

    outcome = Outcome.ERROR


class LoadFailed(StudentCodeError):
    """The student's module could not be imported (syntax error, exit at import...)."""

    outcome = Outcome.ERROR


class UnsupportedValue(StudentCodeError):
    """The function returned something that cannot cross the sandbox boundary."""

    outcome = Outcome.FAILED


#: Builtin exceptions a student's exception may be re-raised as in the trusted
#: process. Deliberately excludes BaseException-only types (SystemExit,
#: KeyboardInterrupt), AssertionError (it would read as a check failure) and
#: NotImplementedError (it means "not attempted").
_MIRRORED = (
    "ValueError",
    "TypeError",
    "IndexError",
    "KeyError",
    "LookupError",
    "RuntimeError",
    "ArithmeticError",
    "ZeroDivisionError",
    "OverflowError",
    "AttributeError",
    "NameError",
    "ImportError",
    "ModuleNotFoundError",
    "RecursionError",
    "UnboundLocalError",
    "StopIteration",
)
_raised_classes: dict[tuple[str, ...], type[StudentRaised]] = {}


def student_raised(type_name: str, bases: tuple[str, ...], reason: str, *, output: str = "") -> StudentRaised:
    """Build the exception for "the student's code raised ``type_name``".

    ``bases`` are the names of the builtin classes in the student's exception's
    MRO (as reported by the worker); only allowlisted names are honoured, so a
    worker cannot make the trusted side raise anything dangerous.
    """
    mirrored = tuple(name for name in bases if name in _MIRRORED)
    # Most derived first; keep only classes not already implied by another.
    classes: list[type[BaseException]] = []
    for name in mirrored:
        cls = getattr(builtins, name)
        if not any(issubclass(existing, cls) for existing in classes):
            classes.append(cls)
    key = tuple(c.__name__ for c in classes)
    cls_ = _raised_classes.get(key)
    if cls_ is None:
        try:
            cls_ = type(f"Student{''.join(key) or 'Exception'}", (StudentRaised, *classes), {})
        except TypeError:  # incompatible layouts: keep the plain class
            cls_ = StudentRaised
        _raised_classes[key] = cls_
    error = cls_(reason, output=output)
    error.type_name = type_name
    return error
