"""Checks for ex02_operations: add, multiply, linear_forward."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

from grader.assertions import (
    across_calls_hint,
    assert_tensor_close,
    explain_known_errors,
    looks_like,
    shape_text,
    unchanged,
)
from grader.checking import StudentRaised, check, fail
from grader.inputs import float_tensors, in_one_request, integer_tensors

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
HINT_SIZE_ONE = (
    "Keep every dimension torch's broadcasting gives, size-1 ones too: a (n, 1) tensor times a 0-d tensor "
    "is (n, 1). Do not squeeze() the result."
)
HINT_IN_PLACE = (
    "Return a new tensor and leave a and b as they were: a + b (or torch.add), "
    "not a.add_(b) or a += b, which change the caller's tensor."
)
HINT_MUL_IN_PLACE = (
    "Return a new tensor and leave a and b as they were: a * b (or torch.mul), "
    "not a.mul_(b) or a *= b, which change the caller's tensor."
)
HINT_LINEAR_IN_PLACE = (
    "Leave x, weight and bias as they were: weight.T (or weight.t()) is a new view, "
    "while weight.t_() transposes the caller's weight and bias += ... changes the caller's bias."
)
LINEAR_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}
#: Half-precision results are compared within a few units in the last place of their dtype.
HALF_TOLERANCE = {torch.float16: {"rtol": 4e-3, "atol": 4e-3}, torch.bfloat16: {"rtol": 3e-2, "atol": 3e-2}}


def _dims(low: int = 2, high: int = 6) -> int:
    return int(torch.randint(low, high, ()))


def _what(function: str, a: torch.Tensor, b: torch.Tensor) -> str:
    return f"{function}(a, b) for a of shape {shape_text(a.shape)} and b of shape {shape_text(b.shape)}"


def _check_binary(
    student: Any, reference: ModuleType, function: str, a: torch.Tensor, b: torch.Tensor, kind: str = ""
) -> None:
    expected = getattr(reference, function)(a, b)
    what = _what(function, a, b) + kind
    with explain_known_errors(what):
        got = getattr(student, function)(a, b)
    hint = ""
    if function == "multiply" and a.dim() == 2 and b.dim() == 2 and a.shape[1] == b.shape[0] and looks_like(got, a @ b):
        hint = HINT_MATMUL
    elif function == "multiply" and looks_like(got, (a * b).sum()):
        hint = HINT_SUM
    elif type(got) is torch.Tensor and got.shape == expected.squeeze().shape != expected.shape:
        hint = HINT_SIZE_ONE
    elif a.shape != b.shape and type(got) is torch.Tensor and got.shape in (a.shape, b.shape):
        hint = HINT_BROADCAST
    elif type(got) is torch.Tensor and got.dtype != expected.dtype:
        hint = HINT_DTYPE
    tolerance = HALF_TOLERANCE.get(expected.dtype, {"rtol": 1e-5, "atol": 1e-6})
    # int32 and uint8 operands: the values are the answer; int64 holds them all, as torch.sum's promotion gives.
    if expected.dtype in (torch.int32, torch.uint8, torch.int16, torch.int8) and _is_integer_tensor(got):
        got, expected = got.to(torch.int64), expected.to(torch.int64)
    assert_tensor_close(got, expected, what=what, hint=hint, **tolerance)


def _is_integer_tensor(value: Any) -> bool:
    return type(value) is torch.Tensor and not value.dtype.is_floating_point and not value.dtype.is_complex


def _check_leaves_inputs(student: Any, reference: ModuleType, function: str) -> None:
    """A right float64 result, and both operands as they were: the caller still holds a and b (b an expanded view)."""
    n, m = _dims(), _dims(3, 7)
    a, b = torch.randn(n, m, dtype=torch.float64), torch.randn(m, dtype=torch.float64).expand(n, m)
    a_before, b_before = a.clone(), b.clone()
    got, (a_after, b_after), _ = getattr(student, function).returning_args(a, b)
    what = _what(function, a, b) + " (float64, b an expanded view)"
    hint = HINT_MUL_IN_PLACE if function == "multiply" else HINT_IN_PLACE
    unchanged(a_before, a_after, what=f"{what}: the tensor a after the call", hint=hint)
    unchanged(b_before, b_after, what=f"{what}: the tensor b after the call", hint=hint)
    assert_tensor_close(got, getattr(reference, function)(a_before, b_before), what=what)


def _check_kinds(student: Any, reference: ModuleType, function: str) -> None:
    """Operands that require grad: a transposed leaf and an nn.Parameter."""
    n, m = _dims(), _dims(3, 7)
    a, b = torch.randn(m, n).T.requires_grad_(), torch.nn.Parameter(torch.randn(m))
    _check_binary(student, reference, function, a, b, " (a transposed view and an nn.Parameter, both require grad)")


def _check_dtypes_and_sizes(student: Any, reference: ModuleType, function: str) -> None:
    """Half-precision operands keep their dtype; 0-d and empty operands broadcast too."""
    m = _dims(3, 7)
    _check_binary(student, reference, function, torch.randn(()).half(), torch.randn(()).half(), " (float16, 0-d)")
    a, b = torch.randn(0, m).bfloat16(), torch.randn(m).bfloat16()
    _check_binary(student, reference, function, a, b, " (bfloat16, a is empty)")


def _check_any_tensor(student: Any, reference: ModuleType, function: str) -> None:
    """Every kind of tensor the contract names as a, with b of a's dtype broadcast against it; integer tensors too."""
    n, m = _dims(), _dims(3, 7)
    cases = []
    for kind, a in float_tensors((n, m)) + integer_tensors((n, m)):
        b = torch.randn(m).to(a.dtype) if a.dtype.is_floating_point else torch.randint(1, 9, (m,), dtype=a.dtype)
        cases.append((kind, a, b))
    ahead = in_one_request(student, function, [(a, b) for _, a, b in cases])
    for kind, a, b in cases:
        _check_binary(ahead, reference, function, a, b, f" (a: {kind}, b: {b.dtype})")


def _check_size_one(student: Any, reference: ModuleType, function: str) -> None:
    """Size-1 dimensions stay: (n, 1) with a 0-d tensor, (1, m) with (1,), (1, 1) with (1, 1)."""
    n, m = _dims(), _dims(3, 7)
    pairs = [
        (torch.randn(n, 1), torch.randn(())),
        (torch.randn(1, m), torch.randn(1)),
        (torch.randn(1, 1), torch.randn(1, 1)),
        (torch.randint(-9, 9, (n, 1, 1)), torch.randint(-9, 9, ())),
    ]
    ahead = in_one_request(student, function, pairs)
    for a, b in pairs:
        _check_binary(ahead, reference, function, a, b)


def _check_answers_stay(student: Any, reference: ModuleType, function: str) -> None:
    """Three pairs of one shape, in a row in one worker: each result its own pair's, read after the last call."""
    n, m = _dims(), _dims(3, 7)
    pairs = [(torch.randn(n, m), torch.randn(n, m)) for _ in range(3)]
    got = getattr(student, function).in_sequence([(pair, {}) for pair in pairs])
    expected = [getattr(reference, function)(a, b) for a, b in pairs]
    hint = across_calls_hint(got, expected)
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        what = f"{function}(a, b) for the pair {i + 1} of 3 of shape {shape_text((n, m))}, called in a row"
        assert_tensor_close(value, want, what=f"{what}, read after the last call", hint=hint)


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


@check("add", points=1, hint=HINT_IN_PLACE)
def check_add_leaves_inputs_unchanged(student: Any, reference: ModuleType) -> None:
    """Returns a + b as a new float64 tensor and leaves a and b (an expanded view) unchanged: a sum does not modify its operands."""
    _check_leaves_inputs(student, reference, "add")


@check("add", points=1, hint="a + b works for tensors that require grad and for views alike.")
def check_add_parameters_and_views(student: Any, reference: ModuleType) -> None:
    """Adds tensors that require grad: a transposed view and an nn.Parameter."""
    _check_kinds(student, reference, "add")


@check("add", points=1, hint="a + b keeps torch's dtype and shape rules for every dtype and size.")
def check_add_other_dtypes_and_sizes(student: Any, reference: ModuleType) -> None:
    """Adds float16 and bfloat16 tensors (keeping the dtype), two 0-d tensors and an empty tensor."""
    _check_dtypes_and_sizes(student, reference, "add")


@check("add", points=1, hint="a + b works for every tensor torch accepts: no NumPy round trip, no .float().")
def check_add_any_tensor(student: Any, reference: ModuleType) -> None:
    """Adds every kind of tensor the contract names: float32 that requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, 0-d, empty, int64, int32 and uint8 tensors.

    Float results keep torch's dtype; int32 and uint8 results are judged by their values (an int64
    result with the same values, as torch.sum's promotion gives, is the same sum).
    """
    _check_any_tensor(student, reference, "add")


@check("add", points=1, hint=HINT_SIZE_ONE)
def check_add_keeps_size_one_dimensions(student: Any, reference: ModuleType) -> None:
    """Keeps size-1 dimensions as broadcasting gives them: (n, 1) with a 0-d tensor is (n, 1), not (n,)."""
    _check_size_one(student, reference, "add")


@check("add", points=1, hint="Compute each result from the tensors you are given, as a new tensor: a + b.")
def check_add_answers_stay(student: Any, reference: ModuleType) -> None:
    """A result stays the answer: three calls with pairs of one shape, in a row, each keep their own result.

    Read after the last call, so one tensor refilled by every call, or a result
    remembered by shape, is caught (the hint names which the evidence shows).
    """
    _check_answers_stay(student, reference, "add")


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


@check("multiply", points=1, hint=HINT_MUL_IN_PLACE)
def check_multiply_leaves_inputs_unchanged(student: Any, reference: ModuleType) -> None:
    """Returns a * b as a new float64 tensor and leaves a and b (an expanded view) unchanged: a product does not modify its operands."""
    _check_leaves_inputs(student, reference, "multiply")


@check("multiply", points=1, hint="a * b works for tensors that require grad and for views alike.")
def check_multiply_parameters_and_views(student: Any, reference: ModuleType) -> None:
    """Multiplies tensors that require grad: a transposed view and an nn.Parameter."""
    _check_kinds(student, reference, "multiply")


@check("multiply", points=1, hint="a * b keeps torch's dtype and shape rules for every dtype and size.")
def check_multiply_other_dtypes_and_sizes(student: Any, reference: ModuleType) -> None:
    """Multiplies float16 and bfloat16 tensors (keeping the dtype), two 0-d tensors and an empty tensor."""
    _check_dtypes_and_sizes(student, reference, "multiply")


@check("multiply", points=1, hint="a * b works for every tensor torch accepts: no NumPy round trip, no .float().")
def check_multiply_any_tensor(student: Any, reference: ModuleType) -> None:
    """Multiplies every kind of tensor the contract names: float32 that requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, 0-d, empty, int64, int32 and uint8 tensors.

    Float results keep torch's dtype; int32 and uint8 results are judged by their values (an int64
    result with the same values, as torch.sum's promotion gives, is the same sum).
    """
    _check_any_tensor(student, reference, "multiply")


@check("multiply", points=1, hint=HINT_SIZE_ONE)
def check_multiply_keeps_size_one_dimensions(student: Any, reference: ModuleType) -> None:
    """Keeps size-1 dimensions as broadcasting gives them: (n, 1) with a 0-d tensor is (n, 1), not (n,)."""
    _check_size_one(student, reference, "multiply")


@check("multiply", points=1, hint="Compute each result from the tensors you are given, as a new tensor: a * b.")
def check_multiply_answers_stay(student: Any, reference: ModuleType) -> None:
    """A result stays the answer: three calls with pairs of one shape, in a row, each keep their own result.

    Read after the last call, so one tensor refilled by every call, or a result
    remembered by shape, is caught (the hint names which the evidence shows).
    """
    _check_answers_stay(student, reference, "multiply")


# --------------------------------------------------------------------------- linear_forward


def _check_linear(
    student: Any,
    reference: ModuleType,
    x: torch.Tensor,
    out: int,
    *,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    kind: str = "",
) -> None:
    n_in = x.shape[-1]
    weight = torch.randn(out, n_in, dtype=x.dtype) if weight is None else weight
    bias = torch.randn(out, dtype=x.dtype) if bias is None else bias
    what = (
        f"linear_forward(x, weight, bias) for x of shape {shape_text(x.shape)}, "
        f"weight {shape_text(weight.shape)}, bias {shape_text(bias.shape)}{kind}"
    )
    expected = reference.linear_forward(x, weight, bias)
    try:
        with explain_known_errors(what):
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
    with torch.no_grad():
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


@check("linear_forward", points=1, hint="x @ weight.T + bias works with a layer's own parameters, which require grad.")
def check_linear_forward_layer_parameters(student: Any, reference: ModuleType) -> None:
    """Computes the layer from an nn.Linear's own weight and bias (nn.Parameters that require grad)."""
    n_in, out = _dims(2, 5), _dims(5, 8)
    layer = torch.nn.Linear(n_in, out)
    kind = " (the weight and bias of an nn.Linear)"
    _check_linear(
        student, reference, torch.randn(_dims(2, 6), n_in), out, weight=layer.weight, bias=layer.bias, kind=kind
    )


@check("linear_forward", points=1, hint="Use operations that accept any layout and dtype: x @ weight.T + bias.")
def check_linear_forward_transposed_views(student: Any, reference: ModuleType) -> None:
    """Computes the layer for transposed views of x and weight."""
    n_in, out, batch = _dims(2, 5), _dims(5, 8), _dims(2, 6)
    weight = torch.randn(n_in, out).T  # (out, in), stored the other way round
    x = torch.randn(n_in, batch).T
    _check_linear(student, reference, x, out, weight=weight, kind=" (x and weight are transposed views)")


@check("linear_forward", points=1, hint=HINT_LINEAR_IN_PLACE)
def check_linear_forward_leaves_inputs_unchanged(student: Any, reference: ModuleType) -> None:
    """Leaves x, weight and bias unchanged (a layer's forward never modifies its weights), and returns the output, for float64 too."""
    n_in, out = _dims(2, 5), _dims(5, 8)
    f64 = torch.float64
    args = (torch.randn(_dims(2, 6), n_in, dtype=f64), torch.randn(out, n_in, dtype=f64), torch.randn(out, dtype=f64))
    before = [a.clone() for a in args]
    got, after, _ = student.linear_forward.returning_args(*args)
    what = (
        f"linear_forward(x, weight, bias) for x of shape {shape_text(args[0].shape)}, "
        f"weight {shape_text(args[1].shape)}, bias {shape_text(args[2].shape)} (float64)"
    )
    for name, old, new in zip(("x", "weight", "bias"), before, after, strict=True):
        unchanged(old, new, what=f"{what}: {name} after the call", hint=HINT_LINEAR_IN_PLACE)
    expected = reference.linear_forward(*before)
    assert_tensor_close(got, expected, what=what, check_dtype=False, **LINEAR_TOLERANCE)


@check("linear_forward", points=1, hint="x @ weight.T + bias works for every float tensor and layout torch accepts.")
def check_linear_forward_any_tensor(student: Any, reference: ModuleType) -> None:
    """Computes the layer for x of every float kind the contract names (requires grad, an nn.Parameter, transposed, step-sliced, expanded, float16, bfloat16, float64, an empty batch), with weight and bias of x's dtype."""
    n_in, out = _dims(2, 5), _dims(5, 8)
    cases = [
        (kind, x, torch.randn(out, n_in).to(x.dtype), torch.randn(out).to(x.dtype))
        for kind, x in float_tensors((_dims(2, 6), n_in))
        if x.dim()  # x has shape (in,) or (batch, in)
    ]
    ahead = in_one_request(student, "linear_forward", [(x, weight, bias) for _, x, weight, bias in cases])
    for kind, x, weight, bias in cases:
        tolerance = HALF_TOLERANCE.get(x.dtype)
        if tolerance is None:
            _check_linear(ahead, reference, x, out, weight=weight, bias=bias, kind=f" (x: {kind})")
            continue
        what = f"linear_forward(x, weight, bias) for x: {kind} of shape {shape_text(x.shape)}"
        with explain_known_errors(what):
            got = ahead.linear_forward(x, weight, bias)
        expected = reference.linear_forward(x.double(), weight.double(), bias.double()).to(x.dtype)
        assert_tensor_close(got, expected, what=what, check_dtype=False, rtol=0.05, atol=0.05)


@check("linear_forward", points=1, hint="Compute each output from the x, weight and bias you are given.")
def check_linear_forward_answers_stay(student: Any, reference: ModuleType) -> None:
    """A result stays the answer: three calls with inputs of one shape, in a row, each keep their own output (read after the last call)."""
    n_in, out, batch = _dims(2, 5), _dims(5, 8), _dims(2, 6)
    calls = [(torch.randn(batch, n_in), torch.randn(out, n_in), torch.randn(out)) for _ in range(3)]
    got = student.linear_forward.in_sequence([(args, {}) for args in calls])
    expected = [reference.linear_forward(*args) for args in calls]
    hint = across_calls_hint(got, expected, lambda a, b: looks_like(a, b, **LINEAR_TOLERANCE))
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        what = f"linear_forward(x, weight, bias) for the inputs {i + 1} of 3 (x of shape {shape_text((batch, n_in))}), called in a row"
        assert_tensor_close(
            value, want, what=f"{what}, read after the last call", hint=hint, check_dtype=False, **LINEAR_TOLERANCE
        )
