"""Checks for ex05_activations: apply_sigmoid, apply_softmax, binary_classifier, multiclass_classifier."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import nn

from grader.assertions import (
    HINT_SHARED as HINT_SAME_OBJECT,
)
from grader.assertions import (
    across_calls_hint,
    assert_layers,
    assert_tensor_close,
    copy_weights,
    describe,
    explain_known_errors,
    looks_like,
    run_module,
    shape_text,
    shared_between,
    unchanged,
)
from grader.checking import check, fail
from grader.inputs import float_tensors, in_one_request

HINT_OVERFLOW = (
    "exp overflows to inf for large inputs and inf / inf is nan: use torch.sigmoid / torch.softmax, "
    "or subtract the maximum before exp."
)
HINT_SIGN = "The sigmoid is 1 / (1 + exp(-x)): mind the minus sign."
HINT_TANH = "tanh is not the sigmoid: the sigmoid maps to (0, 1), tanh to (-1, 1)."
HINT_GLOBAL = "Normalise along dim only: sum exp(x) with sum(dim=dim, keepdim=True), not over the whole tensor."
HINT_NO_SIGMOID = "Follow the linear layer with nn.Sigmoid() so the output is a probability."
HINT_SOFTMAX_ONE_OUTPUT = "A softmax over a single output is always 1: use nn.Sigmoid() for one output."
HINT_ONE_OUTPUT = "A binary classifier has one output: nn.Linear(n_features, 1)."
HINT_LINEAR_ORDER = "nn.Linear takes (in_features, out_features): nn.Linear(n_features, ...)."
HINT_NO_SOFTMAX = "Follow the linear layer with nn.Softmax(dim=-1) so each row becomes probabilities."
HINT_DIM1 = "nn.Softmax(dim=1) fails on a single sample, which has only dimension 0: use dim=-1, the last dimension."
HINT_DIM0 = "nn.Softmax(dim=0) normalises down the batch; each sample's row must sum to 1: use dim=-1."
HINT_IN_PLACE = (
    "Leave x as it was: compute into a new tensor (torch.sigmoid(x), x - m, torch.exp(...)) "
    "instead of changing x in place (x.sigmoid_(), x -= m, x.exp_())."
)
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}
#: Half-precision results are compared within a few units in the last place of their dtype.
HALF_TOLERANCE = {torch.float16: {"rtol": 4e-3, "atol": 4e-3}, torch.bfloat16: {"rtol": 3e-2, "atol": 3e-2}}


def _tolerance(x: torch.Tensor) -> dict[str, float]:
    return HALF_TOLERANCE.get(x.dtype, TOLERANCE)


def _float_kinds() -> list[tuple[str, torch.Tensor]]:
    """Inputs of every floating dtype and kind a student meets: float64, half types, grad, views."""
    n, m = _dims(2, 5), _dims(5, 8)
    return [
        (" (float64, a transposed view)", (torch.randn(m, n, dtype=torch.float64) * 4).T),
        (" (float16, an expanded view)", (torch.randn(1, m) * 4).to(torch.float16).expand(n, m)),
        (" (bfloat16, it requires grad)", (torch.randn(n, m) * 4).to(torch.bfloat16).requires_grad_()),
    ]


def _dims(low: int = 2, high: int = 7) -> int:
    return int(torch.randint(low, high, ()))


def _large(shape: tuple[int, ...]) -> torch.Tensor:
    """Values as large as ±1000, with the extremes themselves present."""
    x = (torch.rand(shape) * 2 - 1) * 1000
    flat = x.view(-1)
    flat[torch.randperm(flat.numel())[:4]] = torch.tensor([1000.0, -1000.0, 500.0, -88.75])[: min(4, flat.numel())]
    return x


def _moderate(shape: tuple[int, ...]) -> torch.Tensor:
    """Magnitudes between 60 and 200, where exp already overflows float32, with no ±1000 among them.

    An answer keyed on the docstring's examples (right when ±1000 is present,
    a naive formula otherwise) gives nan here.
    """
    sign = torch.where(torch.rand(shape) < 0.5, -1.0, 1.0)
    return sign * (torch.rand(shape) * 140 + 60)


def _in_a_row(
    student: Any, reference: ModuleType, function: str, inputs: list[tuple[Any, ...]], what: str, tolerance: Any
) -> None:
    """Call ``function`` on each input in a row, in one worker; each result must be its own input's, read after the last call."""
    got = getattr(student, function).in_sequence([(args, {}) for args in inputs])
    expected = [getattr(reference, function)(*args) for args in inputs]
    hint = across_calls_hint(got, expected, lambda a, b: looks_like(a, b, **tolerance))
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        where = f"{what} for the input {i + 1} of {len(inputs)}, called in a row, read after the last call"
        assert_tensor_close(value, want, what=where, hint=hint, check_dtype=False, **tolerance)


def _check_distinct_models(got: list[Any], what: str) -> None:
    """Models built by calls in a row must be distinct objects with parameters of their own."""
    for j, later in enumerate(got):
        for i in range(j):
            if isinstance(got[i], nn.Module) and isinstance(later, nn.Module) and shared_between(got[i], later):
                fail(
                    f"{what}: calls {i + 1} and {j + 1} returned one model (or models sharing parameters)",
                    hint=HINT_SAME_OBJECT,
                )


# --------------------------------------------------------------------------- apply_sigmoid


def _check_sigmoid(student: Any, reference: ModuleType, x: torch.Tensor, kind: str = "") -> None:
    expected = reference.apply_sigmoid(x)
    what = f"apply_sigmoid(x) for x of shape {shape_text(x.shape)}{kind}"
    with explain_known_errors(what):
        got = student.apply_sigmoid(x)
    x = x.detach()
    hint = ""
    if type(got) is torch.Tensor and got.shape == x.shape:
        if not bool(torch.isfinite(got).all()):
            hint = HINT_OVERFLOW
        elif looks_like(got, torch.sigmoid(-x), **TOLERANCE):
            hint = HINT_SIGN
        elif looks_like(got, torch.tanh(x), **TOLERANCE):
            hint = HINT_TANH
    assert_tensor_close(got, expected, what=what, hint=hint, check_dtype=False, **_tolerance(x))


@check("apply_sigmoid", points=1, hint="The sigmoid is 1 / (1 + exp(-x)), or torch.sigmoid(x).")
def check_apply_sigmoid_random(student: Any, reference: ModuleType) -> None:
    """Computes the sigmoid of every element of vectors, matrices and 3-d tensors."""
    for shape in [(_dims(4, 9),), (_dims(), _dims()), (2, _dims(), _dims())]:
        _check_sigmoid(student, reference, torch.randn(shape) * 4)


@check("apply_sigmoid", points=1, hint="torch.sigmoid stays finite and exact for any input size.")
def check_apply_sigmoid_large_magnitudes(student: Any, reference: ModuleType) -> None:
    """Gives finite, correct values for inputs as large as ±1000."""
    _check_sigmoid(student, reference, _large((_dims(3, 6), _dims(3, 6))))
    _check_sigmoid(student, reference, torch.tensor([-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0]))


@check("apply_sigmoid", points=1, hint="Apply the sigmoid element by element, keeping the shape.")
def check_apply_sigmoid_keeps_shape(student: Any, reference: ModuleType) -> None:
    """Keeps the shape of x, for a 0-d tensor and dimensions of size 1 too."""
    for shape in [(), (1,), (_dims(), 1, _dims()), (_dims(), 0)]:
        _check_sigmoid(student, reference, torch.randn(shape) * 3)


@check("apply_sigmoid", points=1, hint="torch.sigmoid(x) works for every floating dtype, parameters and views.")
def check_apply_sigmoid_other_dtypes_and_views(student: Any, reference: ModuleType) -> None:
    """Computes the sigmoid of float64, float16 and bfloat16 tensors, of tensors that require grad and of views."""
    for kind, x in _float_kinds():
        _check_sigmoid(student, reference, x, kind)


@check("apply_sigmoid", points=1, hint=HINT_IN_PLACE)
def check_apply_sigmoid_leaves_input_unchanged(student: Any, reference: ModuleType) -> None:
    """Returns the sigmoid as a new tensor and leaves x unchanged: an activation does not modify its input."""
    x = torch.randn(_dims(), _dims()) * 4
    before = x.clone()
    got, (after,), _ = student.apply_sigmoid.returning_args(x)
    what = f"apply_sigmoid(x) for x of shape {shape_text(x.shape)}"
    unchanged(before, after, what=f"{what}: x after the call", hint=HINT_IN_PLACE)
    assert_tensor_close(got, reference.apply_sigmoid(before), what=what, check_dtype=False, **TOLERANCE)


@check("apply_sigmoid", points=1, hint="torch.sigmoid(x) works for every floating tensor torch accepts.")
def check_apply_sigmoid_any_tensor(student: Any, reference: ModuleType) -> None:
    """Computes the sigmoid of every float kind the contract names: float32 that requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, 0-d and empty tensors."""
    kinds = float_tensors((_dims(), _dims(3, 7)), scale=4)
    ahead = in_one_request(student, "apply_sigmoid", [(x,) for _, x in kinds])
    for kind, x in kinds:
        _check_sigmoid(ahead, reference, x, f" ({kind})")


@check("apply_sigmoid", points=1, hint=HINT_OVERFLOW)
def check_apply_sigmoid_moderately_large(student: Any, reference: ModuleType) -> None:
    """Stays finite and right for every large input, not only the docstring's ±1000: magnitudes 60 to 200 alone."""
    _check_sigmoid(student, reference, _moderate((_dims(3, 6), _dims(3, 6))))


@check("apply_sigmoid", points=1, hint="Compute each result from the x you are given, as a new tensor.")
def check_apply_sigmoid_answers_stay(student: Any, reference: ModuleType) -> None:
    """A result stays the answer: three inputs of one shape, in a row, each keep their own sigmoid (read after the last call)."""
    shape = (_dims(), _dims(3, 7))
    inputs = [(torch.randn(shape) * 4,) for _ in range(3)]
    _in_a_row(
        student, reference, "apply_sigmoid", inputs, f"apply_sigmoid(x) for x of shape {shape_text(shape)}", TOLERANCE
    )


# --------------------------------------------------------------------------- apply_softmax


def _check_softmax(student: Any, reference: ModuleType, x: torch.Tensor, dim: int, kind: str = "") -> None:
    expected = reference.apply_softmax(x, dim)
    what = f"apply_softmax(x, dim={dim}) for x of shape {shape_text(x.shape)}{kind}"
    with explain_known_errors(what):
        got = student.apply_softmax(x, dim)
    x = x.detach()
    hint = ""
    if type(got) is torch.Tensor and got.shape == x.shape and x.numel():
        wrong_dims = [d for d in range(x.dim()) if d != dim % max(x.dim(), 1)]
        if not bool(torch.isfinite(got).all()):
            hint = HINT_OVERFLOW
        elif any(looks_like(got, torch.softmax(x, d), **TOLERANCE) for d in wrong_dims):
            d = next(d for d in wrong_dims if looks_like(got, torch.softmax(x, d), **TOLERANCE))
            hint = f"Your values sum to 1 along dim {d}, not along dim={dim}: use the dim argument."
        elif x.dim() > 1 and looks_like(got, torch.softmax(x.reshape(-1), 0).reshape(x.shape), **TOLERANCE):
            hint = HINT_GLOBAL
    assert_tensor_close(got, expected, what=what, hint=hint, check_dtype=False, **_tolerance(x))


@check("apply_softmax", points=1, hint="torch.softmax(x, dim=dim) normalises along the given dimension.")
def check_apply_softmax_matrix_both_dims(student: Any, reference: ModuleType) -> None:
    """Computes the softmax of a matrix along dim 1 and along dim 0."""
    x = torch.randn(_dims(2, 5), _dims(5, 9)) * 3
    for dim in (1, 0):
        _check_softmax(student, reference, x, dim)


@check("apply_softmax", points=1, hint="A negative dim counts from the end: -1 is the last dimension.")
def check_apply_softmax_negative_dim(student: Any, reference: ModuleType) -> None:
    """Accepts negative dims (-1, -2, -3) on a 3-d tensor."""
    x = torch.randn(2, _dims(3, 5), _dims(5, 8)) * 3
    for dim in (-1, -2, -3):
        _check_softmax(student, reference, x, dim)


@check("apply_softmax", points=1, hint="Subtracting the maximum before exp keeps the softmax finite.")
def check_apply_softmax_large_magnitudes(student: Any, reference: ModuleType) -> None:
    """Stays finite and correct for inputs as large as ±1000."""
    x = _large((_dims(3, 6), _dims(3, 6)))
    for dim in (-1, 0):
        _check_softmax(student, reference, x, dim)


@check("apply_softmax", points=1, hint="A vector has one dimension: dim 0, also written -1.")
def check_apply_softmax_vector(student: Any, reference: ModuleType) -> None:
    """Computes the softmax of a vector, with dim=0 and dim=-1."""
    x = torch.randn(_dims(3, 10)) * 3
    for dim in (0, -1):
        _check_softmax(student, reference, x, dim)


@check("apply_softmax", points=1, hint="torch.softmax(x, dim) works for every floating dtype, parameters and views.")
def check_apply_softmax_other_dtypes_and_views(student: Any, reference: ModuleType) -> None:
    """Computes the softmax of float64, float16 and bfloat16 tensors, of tensors that require grad and of views."""
    for dim, (kind, x) in zip((-1, 0, -1), _float_kinds(), strict=True):
        _check_softmax(student, reference, x, dim, kind)


@check("apply_softmax", points=1, hint="A 0-d tensor's softmax is 1; an empty batch gives an empty result.")
def check_apply_softmax_scalar_and_empty(student: Any, reference: ModuleType) -> None:
    """Keeps the shape of a 0-d tensor and of an empty batch (0, n)."""
    n = _dims(3, 7)
    for x, dim in [(torch.randn(()) * 3, -1), (torch.randn(0, n), -1)]:
        _check_softmax(student, reference, x, dim)


@check("apply_softmax", points=1, hint=HINT_IN_PLACE)
def check_apply_softmax_leaves_input_unchanged(student: Any, reference: ModuleType) -> None:
    """Returns the softmax as a new tensor and leaves x unchanged: an activation does not modify its input."""
    x = torch.randn(_dims(), _dims(3, 7)) * 4
    before = x.clone()
    got, (after, _dim), _ = student.apply_softmax.returning_args(x, -1)
    what = f"apply_softmax(x, dim=-1) for x of shape {shape_text(x.shape)}"
    unchanged(before, after, what=f"{what}: x after the call", hint=HINT_IN_PLACE)
    assert_tensor_close(got, reference.apply_softmax(before, -1), what=what, check_dtype=False, **TOLERANCE)


@check("apply_softmax", points=1, hint="torch.softmax(x, dim) works for every floating tensor torch accepts.")
def check_apply_softmax_any_tensor(student: Any, reference: ModuleType) -> None:
    """Computes the softmax of every float kind the contract names: float32 that requires grad, an nn.Parameter, transposed, step-sliced and expanded views, float16, bfloat16, float64, 0-d and empty tensors."""
    kinds = float_tensors((_dims(), _dims(3, 7)), scale=4)
    ahead = in_one_request(student, "apply_softmax", [(x, -1) for _, x in kinds])
    for kind, x in kinds:
        _check_softmax(ahead, reference, x, -1, f" ({kind})")


@check("apply_softmax", points=1, hint=HINT_OVERFLOW)
def check_apply_softmax_moderately_large(student: Any, reference: ModuleType) -> None:
    """Stays finite and right for every large input, not only the docstring's ±1000: magnitudes 60 to 200 alone."""
    x = _moderate((_dims(3, 6), _dims(3, 6)))
    ahead = in_one_request(student, "apply_softmax", [(x, -1), (x, 0)])
    for dim in (-1, 0):
        _check_softmax(ahead, reference, x, dim)


@check("apply_softmax", points=1, hint="Compute each result from the x you are given, as a new tensor.")
def check_apply_softmax_answers_stay(student: Any, reference: ModuleType) -> None:
    """A result stays the answer: three inputs of one shape, in a row, each keep their own softmax (read after the last call)."""
    shape = (_dims(), _dims(3, 7))
    inputs = [(torch.randn(shape) * 4, -1) for _ in range(3)]
    what = f"apply_softmax(x, dim=-1) for x of shape {shape_text(shape)}"
    _in_a_row(student, reference, "apply_softmax", inputs, what, TOLERANCE)


# --------------------------------------------------------------------------- binary_classifier


def _binary_hint(got: Any, n_features: int) -> str:
    if type(got) is not nn.Sequential:
        return ""
    layers = list(got)
    if len(layers) == 1 and type(layers[0]) is nn.Linear:
        return HINT_NO_SIGMOID
    if len(layers) == 2 and type(layers[1]) is nn.Softmax:
        return HINT_SOFTMAX_ONE_OUTPUT
    if layers and type(layers[0]) is nn.Linear:
        if layers[0].in_features == 1 and layers[0].out_features == n_features != 1:
            return HINT_LINEAR_ORDER
        if layers[0].out_features != 1:
            return HINT_ONE_OUTPUT
    return ""


def _check_binary_layers(got: Any, n_features: int) -> None:
    assert_layers(
        got,
        [nn.Linear(n_features, 1), nn.Sigmoid()],
        what=f"binary_classifier({n_features})",
        hint=_binary_hint(got, n_features),
    )


@check("binary_classifier", points=1, hint="nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid()).")
def check_binary_classifier_layers(student: Any, reference: ModuleType) -> None:
    """Returns nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())."""
    for n_features in (_dims(2, 9), 1):
        _check_binary_layers(student.binary_classifier(n_features), n_features)


@check("binary_classifier", points=1, hint="The model must map (batch, n_features) to (batch, 1) probabilities.")
def check_binary_classifier_outputs_probabilities(student: Any, reference: ModuleType) -> None:
    """Maps a batch (batch, n_features) to probabilities of shape (batch, 1), each in [0, 1]."""
    n_features, batch = _dims(2, 9), _dims(3, 9)
    got = student.binary_classifier(n_features)
    what = f"binary_classifier({n_features})"
    # Any module is run: what it maps a batch to is judged here; its class is the layers check's business.
    if not isinstance(got, nn.Module):
        fail(f"{what}: expected an nn.Sequential, got {describe(got)}")
    x = torch.randn(batch, n_features) * 3
    out = run_module(got, x, what=what, hint=_binary_hint(got, n_features))
    if type(out) is not torch.Tensor or out.shape != (batch, 1):
        shape = shape_text(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        fail(
            f"{what} on x of shape {shape_text(x.shape)}: expected output shape ({batch}, 1), got {shape}",
            hint=_binary_hint(got, n_features),
        )
    if not bool(((out >= 0) & (out <= 1)).all()):
        fail(
            f"{what} on x of shape {shape_text(x.shape)}: outputs {out.min().item():.4g} .. "
            f"{out.max().item():.4g} are not all probabilities in [0, 1]",
            hint=_binary_hint(got, n_features),
        )


@check("binary_classifier", points=1, hint="The model computes sigmoid(x @ weight.T + bias).")
def check_binary_classifier_behaviour(student: Any, reference: ModuleType) -> None:
    """Given the reference's weights, computes the same probabilities."""
    n_features = _dims(2, 9)
    got = student.binary_classifier(n_features)
    _check_binary_layers(got, n_features)
    expected = reference.binary_classifier(n_features)
    copy_weights(expected, got)
    x = torch.randn(_dims(3, 9), n_features) * 3
    with torch.no_grad():
        want = expected(x)
    what = f"binary_classifier({n_features}) with the reference's weights"
    assert_tensor_close(run_module(got, x, what=what), want, what=f"{what}, on x of shape {shape_text(x.shape)}")


@check("binary_classifier", points=1, hint="Build a new model on every call.")
def check_binary_classifier_answers_stay(student: Any, reference: ModuleType) -> None:
    """Three calls in a row (n, m, n features): three distinct models, each of its own size, none remembered or refilled."""
    n, m = _dims(2, 6), _dims(6, 10)
    sizes = [n, m, n]
    got = student.binary_classifier.in_sequence([((k,), {}) for k in sizes])
    _check_distinct_models(got, f"binary_classifier, called with {sizes} in a row")
    for model, k in zip(got, sizes, strict=True):
        _check_binary_layers(model, k)


# --------------------------------------------------------------------------- multiclass_classifier


def _multiclass_hint(got: Any, n_features: int, n_classes: int) -> str:
    if type(got) is not nn.Sequential:
        return ""
    layers = list(got)
    if len(layers) == 1 and type(layers[0]) is nn.Linear:
        return HINT_NO_SOFTMAX
    first = layers[0] if layers else None
    if (
        type(first) is nn.Linear
        and n_features != n_classes
        and (first.in_features, first.out_features)
        == (
            n_classes,
            n_features,
        )
    ):
        return HINT_LINEAR_ORDER
    if len(layers) == 2 and type(layers[1]) is nn.Softmax:
        return {1: HINT_DIM1, 0: HINT_DIM0}.get(layers[1].dim, "")  # type: ignore[arg-type]
    if len(layers) == 2 and type(layers[1]) is not nn.Softmax:
        return HINT_NO_SOFTMAX
    return ""


def _build_multiclass(student: Any, reference: ModuleType) -> tuple[nn.Sequential, nn.Sequential, int, int, str]:
    """The student's model, checked for structure, carrying the reference's weights."""
    n_features, n_classes = _dims(2, 6), _dims(6, 10)
    got = student.multiclass_classifier(n_features, n_classes)
    what = f"multiclass_classifier({n_features}, {n_classes})"
    hint = _multiclass_hint(got, n_features, n_classes)
    assert_layers(got, [nn.Linear(n_features, n_classes), nn.Softmax], what=what, hint=hint)
    expected = reference.multiclass_classifier(n_features, n_classes)
    copy_weights(expected, got)
    return got, expected, n_features, n_classes, hint


def _compare_multiclass(got: nn.Module, expected: nn.Module, x: torch.Tensor, what: str, hint: str) -> None:
    with torch.no_grad():
        want = expected(x)
    out = run_module(got, x, what=what, hint=hint)
    assert_tensor_close(out, want, what=f"{what}, on x of shape {shape_text(x.shape)}", hint=hint)


@check("multiclass_classifier", points=1, hint="nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1)).")
def check_multiclass_classifier_layers(student: Any, reference: ModuleType) -> None:
    """Returns nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(...))."""
    for n_features, n_classes in [(_dims(2, 6), _dims(6, 10)), (_dims(2, 6), 2)]:
        got = student.multiclass_classifier(n_features, n_classes)
        assert_layers(
            got,
            [nn.Linear(n_features, n_classes), nn.Softmax],
            what=f"multiclass_classifier({n_features}, {n_classes})",
            hint=_multiclass_hint(got, n_features, n_classes),
        )


@check("multiclass_classifier", points=1, hint="The softmax must run over the last dimension: each row sums to 1.")
def check_multiclass_classifier_batch(student: Any, reference: ModuleType) -> None:
    """On a batch (batch, n_features), gives the reference's probabilities, each row summing to 1."""
    got, expected, n_features, n_classes, hint = _build_multiclass(student, reference)
    what = f"multiclass_classifier({n_features}, {n_classes}) with the reference's weights"
    _compare_multiclass(got, expected, torch.randn(_dims(2, 6), n_features) * 3, what, hint)


@check(
    "multiclass_classifier",
    points=1,
    hint="A softmax over dim=-1 works for (n_features,) and (batch, n_features) alike.",
)
def check_multiclass_classifier_single_sample(student: Any, reference: ModuleType) -> None:
    """On a single sample (n_features,), gives n_classes probabilities summing to 1."""
    got, expected, n_features, n_classes, hint = _build_multiclass(student, reference)
    what = f"multiclass_classifier({n_features}, {n_classes}) with the reference's weights"
    _compare_multiclass(got, expected, torch.randn(n_features) * 3, what, hint)


@check("multiclass_classifier", points=1, hint="Build a new model on every call, from both arguments.")
def check_multiclass_classifier_answers_stay(student: Any, reference: ModuleType) -> None:
    """Three calls in a row, n_features fixed and n_classes c, d, c: three distinct models, each with its own number of classes."""
    n, c, d = _dims(2, 6), _dims(2, 6), _dims(6, 10)
    sizes = [(n, c), (n, d), (n, c)]
    got = student.multiclass_classifier.in_sequence([(pair, {}) for pair in sizes])
    _check_distinct_models(got, f"multiclass_classifier, called with {sizes} in a row")
    for model, (a, b) in zip(got, sizes, strict=True):
        what = f"multiclass_classifier({a}, {b}), called with {sizes} in a row"
        assert_layers(model, [nn.Linear(a, b), nn.Softmax], what=what, hint=_multiclass_hint(model, a, b))
