"""Checks for lx02_gradients: gradient_of_square, loss_gradients."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import torch
from torch import nn

from grader.assertions import assert_tensor_close, assert_tensor_equal, assert_type, looks_like, shape_text
from grader.checking import check, fail

HINT_SQUARE = "backward() on (t ** 2).sum() leaves 2 * t in t.grad."
HINT_VALUE = "That is (x ** 2) itself: return the gradient, t.grad, after calling backward()."
HINT_MEAN = "Differentiate (t ** 2).sum(), not .mean(): the mean divides every gradient by the number of elements."
HINT_TWICE = "Gradients accumulate: calling backward() twice adds the gradient twice. Call it once."
HINT_INPUT = (
    "Do not change the caller's x: work on a copy, t = x.detach().clone().requires_grad_(True), "
    "and differentiate with respect to t."
)
HINT_GRAPH = "Return a plain tensor: t.grad (or detach() the result); do not keep a graph with create_graph=True."
HINT_LG_SUM = "The loss is the *mean* of the squared errors: a .sum() multiplies every gradient by their number."
HINT_LG_PARAMS = "Return p.grad, the gradient, not the parameter p itself, after calling loss.backward()."
HINT_LG_DICT = "Return a dict: {name: p.grad for name, p in model.named_parameters()}."
HINT_LG_CHANGED = "Computing gradients must not change the parameters: no optimizer step, no in-place edits."
GRAD_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def _dims(low: int = 2, high: int = 7) -> int:
    return int(torch.randint(low, high, ()))


# --------------------------------------------------------------------------- gradient_of_square


def _square_hint(got: Any, x: torch.Tensor, expected: torch.Tensor) -> str:
    """Name the mistake when ``got`` is what a known mistake gives."""
    if looks_like(got, expected):
        return ""
    if looks_like(got, x**2):
        return HINT_VALUE
    if looks_like(got, expected / x.numel()):
        return HINT_MEAN
    if looks_like(got, 2 * expected):
        return HINT_TWICE
    return ""


def _check_square(student: Any, reference: ModuleType, x: torch.Tensor) -> torch.Tensor:
    what = f"gradient_of_square(x) for x of shape {shape_text(x.shape)} and dtype {x.dtype}"
    expected = reference.gradient_of_square(x.clone())
    got = student.gradient_of_square(x)
    assert_tensor_close(got, expected, what=what, hint=_square_hint(got, x, expected))
    return got  # type: ignore[no-any-return]


@check("gradient_of_square", points=1, hint=HINT_SQUARE)
def check_gradient_of_square_vector(student: Any, reference: ModuleType) -> None:
    """Returns 2 * x for a vector x, as autograd computes it."""
    _check_square(student, reference, torch.randn(_dims(3, 9)) * 2)


@check("gradient_of_square", points=1, hint="The gradient has the shape and dtype of x.")
def check_gradient_of_square_matrix_float64(student: Any, reference: ModuleType) -> None:
    """Works for a float64 matrix, and returns a plain tensor that does not require grad."""
    x = torch.randn(_dims(2, 5), _dims(2, 5), dtype=torch.float64)
    got = _check_square(student, reference, x)
    if got.requires_grad:
        fail(
            f"gradient_of_square(x) for x of shape {shape_text(x.shape)}: the result requires grad "
            "(it is still part of a graph)",
            hint=HINT_GRAPH,
        )


@check("gradient_of_square", points=1, hint=HINT_INPUT)
def check_gradient_of_square_leaves_x_alone(student: Any, reference: ModuleType) -> None:
    """Leaves the caller's x unchanged: same values, still not requiring grad."""
    x = torch.randn(_dims(3, 7))
    expected = reference.gradient_of_square(x.clone())
    got, args_after, _ = student.gradient_of_square.returning_args(x)
    what = f"gradient_of_square(x) for x of shape {shape_text(x.shape)}"
    x_after = args_after[0]
    assert_tensor_equal(x_after, x, what=f"{what}: x after the call", hint=HINT_INPUT)
    if x_after.requires_grad:
        fail(f"{what}: x did not require grad before the call but requires grad after it", hint=HINT_INPUT)
    assert_tensor_close(got, expected, what=what, hint=_square_hint(got, x, expected) or HINT_SQUARE)


# --------------------------------------------------------------------------- loss_gradients


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.Tanh(), nn.Linear(hidden, n_out))


def _check_grads(
    student: Any, reference: ModuleType, model: nn.Module, x: torch.Tensor, y: torch.Tensor, what: str
) -> None:
    what = f"loss_gradients(model, x, y) for {what} and x of shape {shape_text(x.shape)}"
    expected: dict[str, torch.Tensor] = reference.loss_gradients(copy.deepcopy(model), x, y)
    got = student.loss_gradients(model, x, y)
    assert_type(got, dict, what=what, hint=HINT_LG_DICT)
    missing = [name for name in expected if name not in got]
    extra = [name for name in got if name not in expected]
    if missing or extra:
        detail = f"missing {missing}" if missing else ""
        detail += ("; " if missing and extra else "") + (f"unexpected keys {extra}" if extra else "")
        fail(f"{what}: expected the keys {sorted(expected)}, {detail}", hint=HINT_LG_DICT)
    params = dict(model.named_parameters())
    for name, grad in expected.items():
        hint = ""
        if looks_like(got[name], grad * y.numel(), **GRAD_TOLERANCE):
            hint = HINT_LG_SUM
        elif looks_like(got[name], params[name].detach()):
            hint = HINT_LG_PARAMS
        assert_tensor_close(got[name], grad, what=f"{what}, gradient of {name}", hint=hint, **GRAD_TOLERANCE)


@check("loss_gradients", points=1, hint="Call loss.backward() once, then read p.grad for each named parameter.")
def check_loss_gradients_linear(student: Any, reference: ModuleType) -> None:
    """Returns the MSE loss gradient of the weight and bias of an nn.Linear."""
    n_in, n_out, batch = _dims(2, 6), _dims(1, 4), _dims(3, 8)
    model = nn.Linear(n_in, n_out)
    _check_grads(
        student, reference, model, torch.randn(batch, n_in), torch.randn(batch, n_out), f"nn.Linear({n_in}, {n_out})"
    )


@check("loss_gradients", points=1, hint=HINT_LG_CHANGED)
def check_loss_gradients_leaves_parameters_unchanged(student: Any, reference: ModuleType) -> None:
    """Leaves every parameter of the model unchanged."""
    n_in, batch = _dims(2, 6), _dims(3, 8)
    model = nn.Linear(n_in, 1)
    before = [(name, p.detach().clone()) for name, p in model.named_parameters()]
    _, args_after, _ = student.loss_gradients.returning_args(model, torch.randn(batch, n_in), torch.randn(batch, 1))
    what = f"loss_gradients(model, x, y) for nn.Linear({n_in}, 1)"
    model_after = args_after[0]
    assert_type(model_after, nn.Linear, what=f"{what}: the model after the call", hint=HINT_LG_CHANGED)
    after = dict(model_after.named_parameters())
    for name, value in before:
        assert_tensor_equal(
            after[name].detach(), value, what=f"{what}: parameter {name} after the call", hint=HINT_LG_CHANGED
        )


@check("loss_gradients", points=2, hint="Every parameter of every layer gets a gradient, keyed by its full name.")
def check_loss_gradients_deeper_model(student: Any, reference: ModuleType) -> None:
    """Returns a gradient for every parameter of a two-layer MLP, keyed "0.weight", "0.bias", ..."""
    n_in, hidden, n_out, batch = _dims(2, 6), _dims(4, 8), _dims(1, 4), _dims(4, 10)
    _check_grads(
        student,
        reference,
        _mlp(n_in, hidden, n_out),
        torch.randn(batch, n_in),
        torch.randn(batch, n_out),
        f"an MLP {n_in} -> {hidden} -> {n_out}",
    )
