"""Checks for ex03_linear: make_linear, linear_param_count, count_parameters."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import torch
from torch import nn

from grader.assertions import (
    HINT_SHARED as HINT_SAME_OBJECT,
)
from grader.assertions import (
    assert_int,
    assert_tensor_close,
    assert_type,
    copy_weights,
    describe_layer,
    explain_known_errors,
    run_module,
    shared_between,
    unchanged,
    unchanged_model,
)
from grader.checking import check, fail
from grader.inputs import in_one_request

HINT_SWAPPED = "nn.Linear takes (in_features, out_features): n_features first, then n_classes."
HINT_NO_BIAS = "Keep the bias: nn.Linear has one by default (bias=True)."
HINT_FORGOT_BIAS = "Count the bias too: one per output, on top of in_features * out_features weights."
HINT_BIAS_PER_INPUT = "There is one bias per output (out_features of them), not one per input."
HINT_TRAINABLE_ONLY = "Count frozen parameters too (requires_grad=False): they are still parameters."
HINT_BUFFERS = (
    "state_dict() also holds buffers such as BatchNorm's running_mean, which are not parameters; "
    "count model.parameters() instead."
)
HINT_SHARED = "A parameter shared by two layers counts once: model.parameters() yields it only once."
HINT_BINARY = (
    "Two classes need two outputs, one score per class: nn.Linear(n_features, 2). One output is what a "
    "binary classifier with a sigmoid uses, which is another exercise."
)
HINT_TENSORS = "Count scalars, not parameter tensors: add up p.numel() for every parameter p."


def _dims(low: int = 2, high: int = 9) -> int:
    return int(torch.randint(low, high, ()))


# --------------------------------------------------------------------------- make_linear


def _check_structure(got: Any, n_features: int, n_classes: int) -> None:
    what = f"make_linear({n_features}, {n_classes})"
    assert_type(got, nn.Linear, what=what)
    expected = nn.Linear(n_features, n_classes)
    if describe_layer(got) != describe_layer(expected):
        hint = ""
        if (got.in_features, got.out_features) == (n_classes, n_features) and n_features != n_classes:
            hint = HINT_SWAPPED
        elif got.bias is None:
            hint = HINT_NO_BIAS
        elif n_classes == 2 and got.out_features == 1:
            hint = HINT_BINARY
        fail(f"{what}: expected {describe_layer(expected)}, got {describe_layer(got)}", hint=hint)


@check("make_linear", points=1, hint="nn.Linear(in_features, out_features) makes a linear layer with a bias.")
def check_make_linear_structure(student: Any, reference: ModuleType) -> None:
    """Returns an nn.Linear with n_features inputs, n_classes outputs and a bias."""
    n_features, n_classes = _dims(2, 6), _dims(6, 10)
    _check_structure(student.make_linear(n_features, n_classes), n_features, n_classes)
    _check_structure(student.make_linear(n_classes, n_features), n_classes, n_features)


@check("make_linear", points=1, hint="Any square or 1-wide size must work: nn.Linear(n_features, n_classes).")
def check_make_linear_edge_sizes(student: Any, reference: ModuleType) -> None:
    """Works for square sizes (n_features == n_classes) and for a single input or output."""
    n = _dims(3, 8)
    for n_features, n_classes in [(n, n), (1, n), (n, 1)]:
        _check_structure(student.make_linear(n_features, n_classes), n_features, n_classes)


@check("make_linear", points=1, hint="The layer must compute x @ weight.T + bias like any nn.Linear.")
def check_make_linear_behaviour(student: Any, reference: ModuleType) -> None:
    """Given the same weights as the reference, the layer computes the same outputs."""
    n_features, n_classes = _dims(2, 6), _dims(6, 10)
    got = student.make_linear(n_features, n_classes)
    _check_structure(got, n_features, n_classes)
    expected = reference.make_linear(n_features, n_classes)
    copy_weights(expected, got)
    what = f"make_linear({n_features}, {n_classes}) with the reference's weights"
    for x in (torch.randn(_dims(2, 6), n_features), torch.randn(n_features)):
        with torch.no_grad():
            want = expected(x)
        assert_tensor_close(run_module(got, x, what=what), want, what=f"{what}, on x of shape {tuple(x.shape)}")


@check("make_linear", points=1, hint="n_classes outputs, whatever n_classes is: nn.Linear(n_features, n_classes).")
def check_make_linear_two_classes(student: Any, reference: ModuleType) -> None:
    """Two classes give two outputs (one score per class), not the single output of a binary classifier."""
    n = _dims(3, 8)
    sizes = [(n, 2), (2, n), (2, 2)]
    ahead = in_one_request(student, "make_linear", sizes)
    for n_features, n_classes in sizes:
        _check_structure(ahead.make_linear(n_features, n_classes), n_features, n_classes)


@check("make_linear", points=1, hint="Build a new layer on every call: nn.Linear(n_features, n_classes).")
def check_make_linear_answers_stay(student: Any, reference: ModuleType) -> None:
    """Three calls in a row, the first and last with the same sizes: three distinct layers, each of its own sizes.

    A result stays the answer: no layer remembered by n_features (or by the
    sizes) and handed out again, no one layer re-initialised by every call.
    Layers are read after the last call; one object returned twice arrives as
    one object, so sharing is seen as it is.
    """
    n_features, n_classes, other = _dims(2, 6), _dims(6, 10), _dims(10, 14)
    sizes = [(n_features, n_classes), (n_features, other), (n_features, n_classes)]
    got = student.make_linear.in_sequence([(pair, {}) for pair in sizes])
    for later in range(len(got)):
        for earlier in range(later):
            one, other = got[earlier], got[later]
            if isinstance(one, nn.Module) and isinstance(other, nn.Module) and shared_between(one, other):
                fail(
                    f"make_linear, called with {sizes} in a row: calls {earlier + 1} and {later + 1} returned "
                    "one layer (or layers sharing parameters)",
                    hint=HINT_SAME_OBJECT,
                )
    for layer, (a, b) in zip(got, sizes, strict=True):
        _check_structure(layer, a, b)


# --------------------------------------------------------------------------- linear_param_count


def _check_count(student: Any, reference: ModuleType, n_in: int, n_out: int) -> None:
    got = student.linear_param_count(n_in, n_out)
    hint = ""
    if type(got) is int and n_in != n_out:
        if got == n_in * n_out:
            hint = HINT_FORGOT_BIAS
        elif got == n_in * n_out + n_in:
            hint = HINT_BIAS_PER_INPUT
    expected = reference.linear_param_count(n_in, n_out)
    assert_int(got, expected, what=f"linear_param_count({n_in}, {n_out})", hint=hint)


@check("linear_param_count", points=1, hint="weights: in_features * out_features; biases: out_features.")
def check_linear_param_count_random_sizes(student: Any, reference: ModuleType) -> None:
    """Counts weights and biases for several layer sizes."""
    for _ in range(3):
        n_in, n_out = _dims(2, 60), _dims(60, 130)
        _check_count(student, reference, n_in, n_out)
        _check_count(student, reference, n_out, n_in)


@check(
    "linear_param_count", points=1, hint="The count must match sum(p.numel() for p in nn.Linear(i, o).parameters())."
)
def check_linear_param_count_matches_nn_linear(student: Any, reference: ModuleType) -> None:
    """Agrees with a real nn.Linear, including 1-wide and square layers."""
    n = _dims(3, 40)
    for n_in, n_out in [(1, 1), (1, n), (n, 1), (n, n), (_dims(100, 300), _dims(2, 5))]:
        layer = nn.Linear(n_in, n_out)
        got = student.linear_param_count(n_in, n_out)
        assert_int(got, sum(p.numel() for p in layer.parameters()), what=f"linear_param_count({n_in}, {n_out})")


@check("linear_param_count", points=1, hint="Return a Python int, such as in_features * out_features + out_features.")
def check_linear_param_count_returns_int(student: Any, reference: ModuleType) -> None:
    """Returns a Python int (not a float, bool or tensor)."""
    _check_count(student, reference, _dims(), _dims(9, 20))


# --------------------------------------------------------------------------- count_parameters


def _candidates(model: nn.Module) -> list[tuple[int, str]]:
    """Counts a known mistake would give, each with its hint."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    state = sum(v.numel() for v in model.state_dict().values())
    unshared = sum(p.numel() for _, p in model.named_parameters(remove_duplicate=False))
    tensors = len(list(model.parameters()))
    # Shared-parameter double counting comes before buffers: state_dict() also repeats shared tensors.
    return [(trainable, HINT_TRAINABLE_ONLY), (unshared, HINT_SHARED), (state, HINT_BUFFERS), (tensors, HINT_TENSORS)]


def _check_model(student: Any, reference: ModuleType, model: nn.Module, what: str) -> None:
    expected = reference.count_parameters(model)
    with explain_known_errors(f"count_parameters(model) for {what}"):
        got = student.count_parameters(model)
    hint = ""
    if type(got) is int and got != expected:
        hint = next((h for count, h in _candidates(model) if count != expected and got == count), "")
    assert_int(got, expected, what=f"count_parameters(model) for {what}", hint=hint)


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


@check("count_parameters", points=1, hint="Add up p.numel() for every p in model.parameters().")
def check_count_parameters_simple_models(student: Any, reference: ModuleType) -> None:
    """Counts the parameters of a Linear, a small MLP, a LayerNorm model, an Embedding and a ReLU."""
    a, h, c = _dims(2, 6), _dims(6, 12), _dims(2, 5)
    models = {
        f"nn.Linear({a}, {c})": nn.Linear(a, c),
        f"an MLP {a} -> {h} -> {c}": _mlp(a, h, c),
        "Linear without bias, then LayerNorm": nn.Sequential(nn.Linear(a, h, bias=False), nn.LayerNorm(h)),
        f"nn.Embedding({h}, {a})": nn.Embedding(h, a),
        "nn.ReLU() (no parameters)": nn.ReLU(),
    }
    for what, model in models.items():
        _check_model(student, reference, model, what)


@check("count_parameters", points=1, hint="Frozen parameters (requires_grad=False) are parameters too.")
def check_count_parameters_frozen(student: Any, reference: ModuleType) -> None:
    """Counts frozen parameters (requires_grad=False) as well as trainable ones."""
    a, h, c = _dims(2, 6), _dims(6, 12), _dims(2, 5)
    model = _mlp(a, h, c)
    for p in model[0].parameters():
        p.requires_grad_(False)
    _check_model(student, reference, model, "an MLP whose first layer is frozen")
    frozen = nn.Linear(h, c)
    frozen.requires_grad_(False)
    _check_model(student, reference, frozen, "a fully frozen nn.Linear")


@check("count_parameters", points=1, hint="Buffers are not parameters: count model.parameters(), not the state_dict.")
def check_count_parameters_ignores_buffers(student: Any, reference: ModuleType) -> None:
    """Does not count buffers such as BatchNorm's running mean and variance."""
    a, h, c = _dims(2, 6), _dims(6, 12), _dims(2, 5)
    model = nn.Sequential(nn.Linear(a, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, c))
    _check_model(student, reference, model, "Linear, BatchNorm1d, ReLU, Linear")
    _check_model(student, reference, nn.BatchNorm1d(h), f"nn.BatchNorm1d({h})")


@check("count_parameters", points=1, hint="model.parameters() yields a shared parameter once.")
def check_count_parameters_shared_once(student: Any, reference: ModuleType) -> None:
    """Counts a parameter shared by two layers only once."""
    n, c = _dims(3, 8), _dims(2, 5)
    layer = nn.Linear(n, n)
    _check_model(student, reference, nn.Sequential(layer, nn.Tanh(), layer), "the same Linear used twice")
    first, second = nn.Linear(n, n), nn.Linear(n, n)
    second.weight = first.weight
    model = nn.Sequential(first, nn.ReLU(), second, nn.ReLU(), nn.Linear(n, c))
    _check_model(student, reference, model, "two Linear layers sharing one weight")


@check("count_parameters", points=1, hint="p.numel() counts a parameter of any dtype; NumPy has no bfloat16.")
def check_count_parameters_other_dtypes_and_modes(student: Any, reference: ModuleType) -> None:
    """Counts the parameters of a float64 model in training mode and of a bfloat16 model in eval mode."""
    a, h, c = _dims(2, 6), _dims(6, 12), _dims(2, 5)
    double = nn.Sequential(nn.Linear(a, h), nn.Dropout(0.2), nn.Linear(h, c)).double().train()
    _check_model(student, reference, double, "a float64 model in training mode")
    half = nn.Sequential(nn.Linear(a, h), nn.BatchNorm1d(h), nn.Linear(h, c)).to(torch.bfloat16).eval()
    _check_model(student, reference, half, "a bfloat16 model in eval mode")


@check("count_parameters", points=1, hint="Only read the model: counting must not unfreeze or change any parameter.")
def check_count_parameters_leaves_model_unchanged(student: Any, reference: ModuleType) -> None:
    """Leaves the model as it was (every value, frozen parameters still frozen): counting only reads it."""
    a, h, c = _dims(2, 6), _dims(6, 12), _dims(2, 5)
    model = _mlp(a, h, c)
    model[0].requires_grad_(False)
    before = {name: (p.detach().clone(), p.requires_grad) for name, p in model.named_parameters()}
    what = "count_parameters(model) for an MLP whose first layer is frozen"
    got, (after_model,), _ = student.count_parameters.returning_args(model)
    assert_type(after_model, nn.Sequential, what=f"{what}: the model after the call")
    after = dict(after_model.named_parameters())
    for name, (value, trainable) in before.items():
        if name not in after:
            fail(f"{what}: the model lost its parameter {name}")
        if after[name].requires_grad != trainable:
            state = "frozen" if not trainable else "trainable"
            fail(
                f"{what}: parameter {name} was {state} before the call and is not after it",
                hint="Do not set requires_grad: count every parameter, trainable or not, without changing it.",
            )
        unchanged(value, after[name].detach(), what=f"{what}: parameter {name} after the call")
    assert_int(got, reference.count_parameters(model), what=what)


@check("count_parameters", points=1, hint="Only read the model: no forward pass, no training step, no edits.")
def check_count_parameters_leaves_buffers_unchanged(student: Any, reference: ModuleType) -> None:
    """Leaves every parameter, buffer (BatchNorm's running statistics) and requires_grad flag as it was."""
    a, h, c = _dims(2, 6), _dims(6, 12), _dims(2, 5)
    model = nn.Sequential(nn.Linear(a, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, c)).train()
    model[3].requires_grad_(False)
    before = copy.deepcopy(model)
    what = "count_parameters(model) for Linear, BatchNorm1d, ReLU, frozen Linear in training mode"
    got, (after,), _ = student.count_parameters.returning_args(model)
    unchanged_model(before, after, what=f"{what}: the model after the call")
    assert_int(got, reference.count_parameters(before), what=what)
