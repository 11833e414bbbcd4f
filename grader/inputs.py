"""Inputs for checks: every kind of tensor the contract's "any tensor" sentence names.

A function that takes a tensor must work for tensors that require grad and
``nn.Parameter``s, non-contiguous views (transposed, sliced with a step,
expanded), float16, bfloat16 and float64, 0-d and empty tensors. Each kind
alone defeats a known shortcut: ``t.numpy()`` refuses tensors that require
grad and bfloat16, ``t.view(-1)`` refuses a transposed or expanded view,
``len(t)`` refuses a 0-d tensor, ``max()`` refuses an empty one. Drawn from
the check's seeded generator, so the same for every student.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn

from grader.checking import StudentRaised

#: Floating dtypes other than float32.
OTHER_FLOATS = (torch.float16, torch.bfloat16, torch.float64)


def float_tensors(shape: tuple[int, ...], *, scale: float = 1.0) -> list[tuple[str, torch.Tensor]]:
    """One tensor of each kind, of ``shape`` (at least 1-d) unless its kind fixes the shape; with its description."""
    if not shape:
        raise ValueError("float_tensors needs a shape of at least one dimension")
    reversed_dims = tuple(reversed(range(len(shape))))
    kinds: list[tuple[str, torch.Tensor]] = [
        ("a float32 tensor that requires grad", (torch.randn(shape) * scale).requires_grad_()),
        ("an nn.Parameter (float32)", nn.Parameter(torch.randn(shape) * scale)),
        ("a transposed view", (torch.randn(tuple(reversed(shape))) * scale).permute(reversed_dims)),
        ("a view sliced with a step", (torch.randn(shape[0] * 2, *shape[1:]) * scale)[::2]),
        ("an expanded view", (torch.randn(1, *shape[1:]) * scale).expand(shape)),
    ]
    kinds += [(f"a {dtype} tensor", (torch.randn(shape) * scale).to(dtype)) for dtype in OTHER_FLOATS]
    kinds += [
        ("a 0-d tensor", torch.randn(()) * scale),
        ("an empty tensor", torch.randn(0, *shape[1:])),
    ]
    return kinds


def integer_tensors(shape: tuple[int, ...]) -> list[tuple[str, torch.Tensor]]:
    """int64, int32 and uint8 tensors of ``shape``, a 0-d int64 and an empty int64 one; with their descriptions."""
    return [
        ("an int64 tensor", torch.randint(-50, 50, shape)),
        ("an int32 tensor", torch.randint(-50, 50, shape, dtype=torch.int32)),
        ("a uint8 tensor", torch.randint(0, 15, shape, dtype=torch.uint8)),
        ("a 0-d int64 tensor", torch.randint(-50, 50, ())),
        ("an empty int64 tensor", torch.randint(-50, 50, (0, *shape[1:]))),
    ]


class InOneRequest:
    """``student.f`` for calls known in advance: all made in one request (``in_sequence``), answered in order.

    A check that tries one function on many inputs (every kind of tensor) pays
    one request instead of one per input. Should the sequence raise, each call
    is made again on its own when the check makes it, so the failure names its
    own input as a single call's would.
    """

    def __init__(self, function: Any, calls: Sequence[tuple[tuple[Any, ...], dict[str, Any]]]) -> None:
        self._function = function
        self._answers: list[Any] | None
        try:
            self._answers = list(function.in_sequence(calls))
        except StudentRaised:
            self._answers = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._answers:
            return self._function(*args, **kwargs)
        return self._answers.pop(0)


def in_one_request(student: Any, function: str, calls: Sequence[tuple[Any, ...]]) -> Any:
    """A stand-in for ``student`` whose ``function`` answers ``calls`` (positional arguments) from one request."""
    return SimpleNamespace(**{function: InOneRequest(getattr(student, function), [(args, {}) for args in calls])})
