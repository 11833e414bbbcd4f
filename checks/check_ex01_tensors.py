"""Checks for ex01_tensors: make_tensor, tensor_dtype, tensor_shape, count_elements."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import nn

from grader.assertions import (
    across_calls_hint,
    assert_int,
    assert_tensor_equal,
    describe,
    explain_known_errors,
    shape_text,
)
from grader.checking import check, fail
from grader.inputs import float_tensors, in_one_request, integer_tensors

HINT_TENSOR_CTOR = (
    "torch.Tensor(data) (capital T) always makes float32; torch.tensor(data) infers "
    "int64 for ints, float32 for floats and bool for bools."
)
HINT_NUMPY = "NumPy's default float is float64: torch.tensor(data) gives float32 for a list of floats."
HINT_DTYPE_STR = "Return t.dtype itself (a torch.dtype), not str(t.dtype) or t.type(), which are strings."
HINT_FIXED_DTYPE = "Return the dtype of the tensor you are given, t.dtype: it differs from tensor to tensor."
HINT_SHAPE_LIST = "Return t.shape (a torch.Size) or tuple(t.shape), not a list."
HINT_LEN = "len(t) is only the size of the first dimension; t.numel() counts every element."
HINT_EMPTY = "An empty list still makes a tensor: torch.tensor([]) is a float32 tensor of shape (0,)."


def _grad_tensor() -> tuple[str, torch.Tensor]:
    """A tensor that requires grad, as students meet them: a parameter, here a transposed bfloat16 one.

    Each property alone breaks a known mistake: ``t.numpy()`` refuses tensors
    that require grad, NumPy has no bfloat16, ``t.view(-1)`` refuses the layout.
    """
    data = torch.randn(3, int(torch.randint(2, 6, ())), 4).to(torch.bfloat16).transpose(0, 2)
    return "an nn.Parameter (it requires grad; bfloat16, transposed)", nn.Parameter(data)


def _views() -> list[tuple[str, torch.Tensor]]:
    """Tensors that are views with their own strides, as .T, permute and broadcasting make them."""
    n, m = int(torch.randint(2, 5, ())), int(torch.randint(5, 8, ()))
    return [
        ("a transposed tensor", torch.randn(2, n, m).permute(2, 0, 1)),
        ("an expanded tensor", torch.randn(m, 1).to(torch.float16).expand(m, n)),
    ]


def _random_list(shape: tuple[int, ...], make: Any) -> Any:
    """A nested Python list of the given shape, each leaf made by ``make()``."""
    if not shape:
        return make()
    return [_random_list(shape[1:], make) for _ in range(shape[0])]


def _random_ints() -> int:
    return int(torch.randint(-50, 50, ()).item())


def _random_floats() -> float:
    return round(float(torch.randn(()).item()) * 10, 3)


def _random_bools() -> bool:
    return bool(torch.rand(()).item() < 0.5)


def _check_make_tensor(student: Any, reference: ModuleType, data: Any, kind: str) -> None:
    expected = reference.make_tensor(data)
    got = student.make_tensor(data)
    hint = ""
    if type(got) is torch.Tensor and got.dtype != expected.dtype:
        if got.dtype == torch.float32:
            hint = HINT_TENSOR_CTOR
        elif got.dtype == torch.float64:
            hint = HINT_NUMPY
    text = repr(data)
    text = text if len(text) <= 60 else f"a list of {kind} of shape {shape_text(expected.shape)}"
    assert_tensor_equal(got, expected, what=f"make_tensor({text})", hint=hint)


@check("make_tensor", points=1, hint="torch.tensor(data) infers the dtype from the data.")
def check_make_tensor_ints(student: Any, reference: ModuleType) -> None:
    """A list of ints becomes an int64 tensor with the same values and shape."""
    for shape in [(int(torch.randint(2, 7, ())),), (2, 3), (3, 1, 2)]:
        _check_make_tensor(student, reference, _random_list(shape, _random_ints), "ints")


@check("make_tensor", points=1, hint="A list of floats gives a float32 tensor.")
def check_make_tensor_floats(student: Any, reference: ModuleType) -> None:
    """A list of floats (or ints and floats mixed) becomes a float32 tensor with the same values."""
    for shape in [(int(torch.randint(2, 7, ())),), (3, 2)]:
        _check_make_tensor(student, reference, _random_list(shape, _random_floats), "floats")
    mixed = [_random_ints(), _random_floats(), _random_ints()]
    _check_make_tensor(student, reference, mixed, "ints and floats")


@check("make_tensor", points=1, hint="A list of bools gives a tensor of dtype torch.bool.")
def check_make_tensor_bools(student: Any, reference: ModuleType) -> None:
    """A list of bools becomes a bool tensor."""
    for shape in [(5,), (2, 3)]:
        _check_make_tensor(student, reference, _random_list(shape, _random_bools), "bools")


@check("make_tensor", points=1, hint="Nested lists become extra dimensions: keep the nesting.")
def check_make_tensor_nested_shape(student: Any, reference: ModuleType) -> None:
    """Nested lists of any depth keep their shape."""
    for shape in [(1, 4), (4, 1), (2, 2, 3), (2, 1, 2, 2)]:
        _check_make_tensor(student, reference, _random_list(shape, _random_ints), "ints")


@check("make_tensor", points=1, hint=HINT_EMPTY)
def check_make_tensor_empty_lists(student: Any, reference: ModuleType) -> None:
    """An empty list, and a list of empty lists, become empty float32 tensors of the right shape."""
    for data in ([], [[], []]):
        expected = reference.make_tensor(data)
        got = student.make_tensor(data)
        hint = HINT_NUMPY if type(got) is torch.Tensor and got.dtype == torch.float64 else HINT_EMPTY
        assert_tensor_equal(got, expected, what=f"make_tensor({data!r})", hint=hint)


@check("make_tensor", points=1, hint="Build each tensor from the data you are given: torch.tensor(data).")
def check_make_tensor_answers_stay(student: Any, reference: ModuleType) -> None:
    """Three lists of one shape, made in a row in one worker, each give their own tensor, still right after the last call.

    A result stays the answer: no tensor remembered by the list's shape, no one
    tensor refilled by every call (all results are read after the third call).
    """
    shape = (int(torch.randint(2, 5, ())), 3)
    lists = [_random_list(shape, _random_ints) for _ in range(2)] + [_random_list(shape, _random_floats)]
    got = student.make_tensor.in_sequence([((data,), {}) for data in lists])
    expected = [reference.make_tensor(data) for data in lists]
    hint = across_calls_hint(got, expected)
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        what = f"make_tensor(data) for the list {i + 1} of 3 of shape {shape_text(shape)}, called in a row"
        assert_tensor_equal(value, want, what=f"{what}, read after the last call", hint=hint)


# --------------------------------------------------------------------------- tensor_dtype


def _check_dtype(student: Any, t: torch.Tensor, kind: str = "a tensor") -> None:
    what = f"tensor_dtype(t) for {kind} of dtype {t.dtype}"
    with explain_known_errors(what):
        got = student.tensor_dtype(t)
    if type(got) is not torch.dtype:
        fail(
            f"{what}: expected the torch.dtype {t.dtype}, got {describe(got)}",
            hint=HINT_DTYPE_STR if isinstance(got, str) else "",
        )
    if got is not t.dtype:
        fail(f"{what}: expected {t.dtype}, got {got}", hint=HINT_FIXED_DTYPE)


@check("tensor_dtype", points=1, hint="Every tensor has a .dtype attribute.")
def check_tensor_dtype_floats(student: Any, reference: ModuleType) -> None:
    """Returns the dtype of float16, float32 and float64 tensors."""
    for dtype in (torch.float64, torch.float32, torch.float16):
        _check_dtype(student, torch.randn(int(torch.randint(1, 5, ())), 3).to(dtype))


@check("tensor_dtype", points=1, hint="Every tensor has a .dtype attribute.")
def check_tensor_dtype_ints_and_bools(student: Any, reference: ModuleType) -> None:
    """Returns the dtype of int64, int32, uint8 and bool tensors."""
    for dtype in (torch.int32, torch.int64, torch.uint8, torch.bool):
        _check_dtype(student, torch.randint(0, 2, (int(torch.randint(1, 6, ())),)).to(dtype))


@check("tensor_dtype", points=1, hint="t.dtype is a torch.dtype object such as torch.float32.")
def check_tensor_dtype_is_a_dtype(student: Any, reference: ModuleType) -> None:
    """Returns a torch.dtype object, not a string, for tensors of any shape."""
    for t in (torch.tensor(3.5, dtype=torch.float64), torch.zeros(2, 0, 3, dtype=torch.int16)):
        _check_dtype(student, t)


@check("tensor_dtype", points=1, hint="t.dtype works for every tensor, parameters and views included.")
def check_tensor_dtype_parameters_and_views(student: Any, reference: ModuleType) -> None:
    """Returns the dtype of a tensor that requires grad: a bfloat16 nn.Parameter, transposed."""
    _check_dtype(student, *reversed(_grad_tensor()))


def _any_tensors() -> list[tuple[str, torch.Tensor]]:
    """Every kind of tensor the contract names (``grader.inputs``), all of one shape where the kind allows."""
    shape = (int(torch.randint(2, 5, ())), int(torch.randint(5, 8, ())))
    return float_tensors(shape) + integer_tensors(shape)


@check("tensor_dtype", points=1, hint="t.dtype works for every tensor: no NumPy round trip, no special cases.")
def check_tensor_dtype_any_tensor(student: Any, reference: ModuleType) -> None:
    """Returns the dtype of every kind of tensor: float32 that requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, 0-d, empty and integer tensors.

    Most share one shape, so a dtype remembered by shape is caught too.
    """
    kinds = _any_tensors()
    ahead = in_one_request(student, "tensor_dtype", [(t,) for _, t in kinds])
    for kind, t in kinds:
        _check_dtype(ahead, t, kind)


# --------------------------------------------------------------------------- tensor_shape


def _check_shape(student: Any, t: torch.Tensor, kind: str = "a tensor") -> None:
    expected = tuple(t.shape)
    what = f"tensor_shape(t) for {kind} of shape {shape_text(expected)}"
    with explain_known_errors(what):
        got = student.tensor_shape(t)
    if type(got) not in (torch.Size, tuple):
        fail(
            f"{what}: expected a torch.Size or tuple, got {describe(got)}",
            hint=HINT_SHAPE_LIST if isinstance(got, list) else "",
        )
    if not all(type(d) is int for d in got):
        fail(f"{what}: expected a tuple of ints, got {describe(got)}")
    if tuple(got) != expected:
        hint = "Keep the dimensions in order: t.shape already is the answer." if sorted(got) == sorted(expected) else ""
        fail(f"{what}: expected {shape_text(expected)}, got {shape_text(got)}", hint=hint)


@check("tensor_shape", points=1, hint="t.shape gives the size of every dimension.")
def check_tensor_shape_random_ranks(student: Any, reference: ModuleType) -> None:
    """Returns the shape of tensors of rank 1 to 4."""
    for rank in (1, 2, 3, 4):
        dims = torch.randint(2, 6, (rank,)).tolist()
        _check_shape(student, torch.zeros(dims))


@check("tensor_shape", points=1, hint="t.shape is a torch.Size, which is a tuple of ints.")
def check_tensor_shape_not_a_list(student: Any, reference: ModuleType) -> None:
    """Returns a torch.Size or a tuple of ints, not a list."""
    _check_shape(student, torch.randn(int(torch.randint(2, 5, ())), int(torch.randint(5, 9, ()))))


@check("tensor_shape", points=1, hint="A 0-d tensor has shape (); dimensions of size 1 count too.")
def check_tensor_shape_scalar_and_size_one(student: Any, reference: ModuleType) -> None:
    """Returns () for a 0-d tensor and keeps dimensions of size 1."""
    for t in (torch.tensor(float(torch.randn(()))), torch.zeros(1), torch.zeros(3, 1, 1), torch.zeros(1, 4)):
        _check_shape(student, t)


@check("tensor_shape", points=1, hint="t.shape works for every tensor: no need to convert it to NumPy or a list.")
def check_tensor_shape_parameters_and_bfloat16(student: Any, reference: ModuleType) -> None:
    """Returns the shape of a tensor that requires grad: a bfloat16 nn.Parameter, transposed."""
    _check_shape(student, *reversed(_grad_tensor()))


@check("tensor_shape", points=1, hint="t.shape gives every dimension, even those of size 0.")
def check_tensor_shape_empty_and_views(student: Any, reference: ModuleType) -> None:
    """Returns the shape of an empty tensor (a dimension of size 0) and of a transposed view."""
    n = int(torch.randint(2, 6, ()))
    for kind, t in [("an empty tensor", torch.zeros(n, 0, 3)), _views()[0]]:
        _check_shape(student, t, kind)


@check("tensor_shape", points=1, hint="t.shape works for every tensor: no NumPy round trip, no special cases.")
def check_tensor_shape_any_tensor(student: Any, reference: ModuleType) -> None:
    """Returns the shape of every kind of tensor: float32 that requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, 0-d, empty and integer tensors."""
    kinds = _any_tensors()
    ahead = in_one_request(student, "tensor_shape", [(t,) for _, t in kinds])
    for kind, t in kinds:
        _check_shape(ahead, t, kind)


# --------------------------------------------------------------------------- count_elements


def _check_count(student: Any, t: torch.Tensor, kind: str = "a tensor") -> None:
    what = f"count_elements(t) for {kind} of shape {shape_text(t.shape)}"
    with explain_known_errors(what):
        got = student.count_elements(t)
    hint = ""
    if t.dim() > 1 and type(got) is int and got == len(t):
        hint = HINT_LEN
    elif t.dim() > 2 and type(got) is int and got == t.shape[0] * t.shape[1]:
        hint = "Multiply all the dimensions, not just the first two: t.numel() does it for any rank."
    assert_int(got, t.numel(), what=what, hint=hint)


@check("count_elements", points=1, hint="The number of elements is the product of all dimensions: t.numel().")
def check_count_elements_higher_rank(student: Any, reference: ModuleType) -> None:
    """Counts every element of 2-, 3- and 4-dimensional tensors."""
    for rank in (2, 3, 4):
        _check_count(student, torch.zeros(torch.randint(2, 6, (rank,)).tolist()))


@check("count_elements", points=1, hint="A 0-d tensor has one element; t.numel() handles every rank.")
def check_count_elements_vector_and_scalar(student: Any, reference: ModuleType) -> None:
    """Counts the elements of a vector, a 0-d tensor and an empty tensor."""
    for t in (torch.zeros(int(torch.randint(2, 9, ()))), torch.tensor(7.0), torch.zeros(3, 0)):
        _check_count(student, t)


@check("count_elements", points=1, hint="Return a Python int: t.numel() already is one.")
def check_count_elements_returns_int(student: Any, reference: ModuleType) -> None:
    """Returns a Python int, not a tensor or float."""
    _check_count(student, torch.randn(int(torch.randint(2, 5, ())), 3, 2))


@check("count_elements", points=1, hint="t.numel() counts the elements of any tensor, views included.")
def check_count_elements_views(student: Any, reference: ModuleType) -> None:
    """Counts the elements of transposed and expanded tensors (views that view(-1) refuses)."""
    for kind, t in _views():
        _check_count(student, t, kind)


@check("count_elements", points=1, hint="t.numel() works for parameters and every dtype; NumPy does not.")
def check_count_elements_parameters_and_bfloat16(student: Any, reference: ModuleType) -> None:
    """Counts the elements of a tensor that requires grad: a bfloat16 nn.Parameter, transposed."""
    _check_count(student, *reversed(_grad_tensor()))


@check("count_elements", points=1, hint="t.numel() works for every tensor: no NumPy round trip, no special cases.")
def check_count_elements_any_tensor(student: Any, reference: ModuleType) -> None:
    """Counts the elements of every kind of tensor: float32 that requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, 0-d, empty and integer tensors."""
    kinds = _any_tensors()
    ahead = in_one_request(student, "count_elements", [(t,) for _, t in kinds])
    for kind, t in kinds:
        _check_count(ahead, t, kind)
