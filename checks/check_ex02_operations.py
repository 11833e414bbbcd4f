"""Checks for ex02_operations: add, multiply, linear_forward."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

from grader.assertions import assert_tensor_close, looks_like, shape_text
from grader.checking import StudentRaised, check, fail

HINT_BROADCAST = (
    "Broadcasting stretches size-1 and missing dimensions of both operands: "
    "a (3, 1) tensor and a (1, 4) tensor give (3, 4). a + b does it for you."
)
HINT_DTYPE = "Keep torch's dtype: int64 tensors combine into int64 (no .float() needed), floats stay float32."
HINT_MATMUL = "a @ b (or torch.matmul) is the matrix product; the element-wise product is a * b."
HINT_SUM = "Keep every product: a single number is the dot product, which (a * b).sum() (or a @ b for vectors) gives."
HINT_MATRIX_ONLY = "torch.mm and torch.addmm need 2-D inputs; x @ weight.T + bias also works for x of shape (in,)."
HINT_TRANSPOSE = (
    "weight has shape (out, in): multiply by its transpose, x @ weight.T, which works for "
    "x of shape (in,) and (batch, in)."
)
HINT_BIAS = "Add the bias: a linear layer computes x @ weight.T + bias."
LINEAR_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def _dims(low: int = 2, high: int = 6) -> int:
    return int(torch.randint(low, high, ()))


def _what(function: str, a: torch.Tensor, b: torch.Tensor) -> str:
    return f"{function}(a, b) for a of shape {shape_text(a.shape)} and b of shape {shape_text(b.shape)}"


def _check_binary(student: Any, reference: ModuleType, function: str, a: torch.Tensor, b: torch.Tensor) -> None:
    expected = getattr(reference, function)(a, b)
    got = getattr(student, function)(a, b)
    hint = ""
    if function == "multiply" and a.dim() == 2 and b.dim() == 2 and a.shape[1] == b.shape[0] and looks_like(got, a @ b):
        hint = HINT_MATMUL
    elif function == "multiply" and looks_like(got, (a * b).sum()):
        hint = HINT_SUM
    elif a.shape != b.shape and type(got) is torch.Tensor and got.shape in (a.shape, b.shape):
        hint = HINT_BROADCAST
    elif type(got) is torch.Tensor and got.dtype != expected.dtype:
        hint = HINT_DTYPE
    assert_tensor_close(got, expected, what=_what(function, a, b), hint=hint)


# --------------------------------------------------------------------------- add


@check("add", points=1, hint="The element-wise sum is a + b.")
def check_add_same_shape(student: Any, reference: ModuleType) -> None:
    """Adds two float tensors of the same shape, element by element."""
    for shape in [(_dims(3, 8),), (_dims(), _dims(3, 7)), (2, _dims(), 3)]:
        _check_binary(student, reference, "add", torch.randn(shape), torch.randn(shape))


@check("add", points=1, hint=HINT_BROADCAST)
def check_add_broadcasting(student: Any, reference: ModuleType) -> None:
    """Broadcasts like torch: (n, 1) + (1, m), (k, n, m) + (m,), and a 0-d tensor."""
    n, m = _dims(2, 5), _dims(5, 8)
    for a, b in [
        (torch.randn(n, 1), torch.randn(1, m)),
        (torch.randn(2, n, m), torch.randn(m)),
        (torch.randn(m), torch.randn(n, 1)),
        (torch.randn(n, m), torch.randn(())),
    ]:
        _check_binary(student, reference, "add", a, b)


@check("add", points=1, hint="Adding int64 tensors gives an int64 tensor, as a + b does.")
def check_add_integer_tensors(student: Any, reference: ModuleType) -> None:
    """Adds int64 tensors into an int64 tensor, broadcasting too."""
    n, m = _dims(), _dims(3, 7)
    for a, b in [
        (torch.randint(-100, 100, (n, m)), torch.randint(-100, 100, (n, m))),
        (torch.randint(-100, 100, (n, 1)), torch.randint(-100, 100, (m,))),
    ]:
        _check_binary(student, reference, "add", a, b)


# --------------------------------------------------------------------------- multiply


@check("multiply", points=1, hint="The element-wise product is a * b.")
def check_multiply_same_shape(student: Any, reference: ModuleType) -> None:
    """Multiplies two tensors of the same (non-square) shape, element by element."""
    n, m = _dims(2, 4), _dims(4, 7)
    for shape in [(m,), (n, m), (n, 2, m)]:
        _check_binary(student, reference, "multiply", torch.randn(shape), torch.randn(shape))


@check("multiply", points=1, hint="The element-wise product multiplies matching entries: a * b.")
def check_multiply_square_matrices(student: Any, reference: ModuleType) -> None:
    """Multiplies square matrices element by element, not with the matrix product."""
    n = _dims(2, 6)
    _check_binary(student, reference, "multiply", torch.randn(n, n), torch.randn(n, n))


@check("multiply", points=1, hint=HINT_BROADCAST)
def check_multiply_broadcasting(student: Any, reference: ModuleType) -> None:
    """Broadcasts like torch: (n, 1) * (1, m), (n, m) * (m,), a 0-d tensor, and int64 tensors."""
    n, m = _dims(2, 5), _dims(5, 8)
    for a, b in [
        (torch.randn(n, 1), torch.randn(1, m)),
        (torch.randn(n, m), torch.randn(m)),
        (torch.randn(()), torch.randn(n, m)),
        (torch.randint(-20, 20, (n, m)), torch.randint(-20, 20, (n, 1))),
    ]:
        _check_binary(student, reference, "multiply", a, b)


# --------------------------------------------------------------------------- linear_forward


def _check_linear(student: Any, reference: ModuleType, x: torch.Tensor, out: int) -> None:
    n_in = x.shape[-1]
    weight, bias = torch.randn(out, n_in), torch.randn(out)
    what = (
        f"linear_forward(x, weight, bias) for x of shape {shape_text(x.shape)}, "
        f"weight {shape_text(weight.shape)}, bias {shape_text(bias.shape)}"
    )
    expected = reference.linear_forward(x, weight, bias)
    try:
        got = student.linear_forward(x, weight, bias)
    except StudentRaised as exc:
        # the reason reads "linear_forward raised RuntimeError: <message>"
        message = exc.reason.splitlines()[0].split(": ", 1)[-1]
        if isinstance(exc, RuntimeError) and "must be a matrix" in message:
            fail(f"{what} raised {exc.type_name}: {message}", hint=HINT_MATRIX_ONLY)
        if isinstance(exc, RuntimeError) and out != n_in and ("multiplied" in message or "mismatch" in message):
            fail(f"{what} raised {exc.type_name}: {message}", hint=HINT_TRANSPOSE)
        raise
    hint = ""
    if out == n_in and looks_like(got, x @ weight + bias, **LINEAR_TOLERANCE):
        hint = HINT_TRANSPOSE
    elif looks_like(got, x @ weight.T, **LINEAR_TOLERANCE):
        hint = HINT_BIAS
    assert_tensor_close(got, expected, what=what, hint=hint, check_dtype=False, **LINEAR_TOLERANCE)


@check("linear_forward", points=1, hint="A linear layer computes x @ weight.T + bias.")
def check_linear_forward_single_sample(student: Any, reference: ModuleType) -> None:
    """Computes a linear layer for one sample x of shape (in,), giving shape (out,)."""
    n_in, out = _dims(2, 5), _dims(5, 8)
    _check_linear(student, reference, torch.randn(n_in), out)
    _check_linear(student, reference, torch.randn(out), n_in)


@check("linear_forward", points=1, hint="For a batch, x @ weight.T + bias gives one output row per sample.")
def check_linear_forward_batch(student: Any, reference: ModuleType) -> None:
    """Computes a linear layer for a batch x of shape (batch, in), giving shape (batch, out)."""
    n_in, out, batch = _dims(2, 5), _dims(5, 8), _dims(8, 11)
    _check_linear(student, reference, torch.randn(batch, n_in), out)
    _check_linear(student, reference, torch.randn(1, out), n_in)


@check("linear_forward", points=1, hint=HINT_TRANSPOSE)
def check_linear_forward_square_weight(student: Any, reference: ModuleType) -> None:
    """Uses the weight the right way round when it is square (in == out)."""
    n = _dims(3, 7)
    _check_linear(student, reference, torch.randn(_dims(2, 5), n), n)
    _check_linear(student, reference, torch.randn(n), n)
