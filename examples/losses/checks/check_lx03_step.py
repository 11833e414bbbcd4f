"""Checks for lx03_step: sgd_step."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import torch
from torch import nn

from grader.assertions import assert_tensor_close, assert_type, looks_like, shape_text
from grader.checking import check, fail

HINT_ASCENT = "You moved *up* the gradient: subtract it, p -= lr * p.grad, to lower the loss."
HINT_NO_LR = "Scale the gradient by the learning rate: p -= lr * p.grad."
HINT_NO_UPDATE = "backward() only computes gradients: then update each parameter, p -= lr * p.grad, under no_grad()."
HINT_SUM = "The loss is the *mean* of the squared errors: a .sum() makes the step far too large."
HINT_TWO_STEPS = "Take exactly one step: one backward() and one update per call."
HINT_IN_PLACE = (
    "Update the caller's model in place (p -= lr * p.grad under torch.no_grad()): "
    "do not step a copy, and return the model you were given."
)
STEP_TOLERANCE = {"rtol": 1e-4, "atol": 1e-6}


def _dims(low: int = 2, high: int = 7) -> int:
    return int(torch.randint(low, high, ()))


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


def _grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, reduce: str = "mean") -> list[torch.Tensor]:
    """The gradients of the MSE loss, by position, computed on a copy."""
    model = copy.deepcopy(model)
    errors = (model(x) - y) ** 2
    (errors.mean() if reduce == "mean" else errors.sum()).backward()
    return [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in model.parameters()]


def _hint(
    got: torch.Tensor, before: torch.Tensor, grad: torch.Tensor, sum_grad: torch.Tensor, second: torch.Tensor, lr: float
) -> str:
    """Name the mistake when the student's parameter is what a known mistake gives."""
    candidates = (
        (before + lr * grad, HINT_ASCENT),
        (before - grad, HINT_NO_LR),
        (before - lr * sum_grad, HINT_SUM),
        (second, HINT_TWO_STEPS),
        (before, HINT_NO_UPDATE),
    )
    for value, hint in candidates:
        if looks_like(got, value, **STEP_TOLERANCE):
            return hint
    return ""


def _assert_stepped(
    got: Any, model: nn.Module, expected: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, what: str
) -> None:
    """``got`` has ``expected``'s parameters: ``model`` after one SGD step."""
    assert_type(got, type(expected), what=what, hint=HINT_IN_PLACE)
    names = [name for name, _ in expected.named_parameters()]
    got_params = [p.detach() for p in got.parameters()]
    if len(got_params) != len(names):
        fail(f"{what}: expected {len(names)} parameters {names}, got {len(got_params)}", hint=HINT_IN_PLACE)
    grads, sum_grads = _grads(model, x, y), _grads(model, x, y, reduce="sum")
    twice = copy.deepcopy(expected)
    twice.zero_grad()
    ((twice(x) - y) ** 2).mean().backward()
    with torch.no_grad():
        seconds = [p - lr * p.grad if p.grad is not None else p for p in twice.parameters()]
    for index, (name, want) in enumerate(zip(names, expected.parameters(), strict=True)):
        before = list(model.parameters())[index].detach()
        hint = _hint(got_params[index], before, grads[index], sum_grads[index], seconds[index].detach(), lr)
        assert_tensor_close(
            got_params[index], want.detach(), what=f"{what}: parameter {name} after the step", hint=hint,
            **STEP_TOLERANCE,
        )


def _same(a: nn.Module, b: nn.Module) -> bool:
    return all(looks_like(p.detach(), q.detach()) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def _run(student: Any, reference: ModuleType, model: nn.Module, batch: int, lr: float, what: str) -> None:
    n_in = next(model.parameters()).shape[1]
    n_out = list(model.parameters())[-1].shape[0]
    x, y = torch.randn(batch, n_in), torch.randn(batch, n_out)
    expected = reference.sgd_step(copy.deepcopy(model), x, y, lr)
    got = student.sgd_step(model, x, y, lr)
    what = f"sgd_step(model, x, y, lr={lr:g}) for {what} and x of shape {shape_text(x.shape)}"
    _assert_stepped(got, model, expected, x, y, lr, f"{what}: the returned model")


@check("sgd_step", points=1, hint="One step: zero_grad(), loss.backward(), then p -= lr * p.grad.")
def check_sgd_step_linear(student: Any, reference: ModuleType) -> None:
    """Returns an nn.Linear whose parameters took exactly one SGD step on the MSE loss."""
    n_in, n_out = _dims(2, 6), _dims(1, 4)
    _run(student, reference, nn.Linear(n_in, n_out), _dims(4, 10), 0.1, f"nn.Linear({n_in}, {n_out})")


@check("sgd_step", points=1, hint="Every parameter of every layer takes the step, scaled by lr.")
def check_sgd_step_mlp(student: Any, reference: ModuleType) -> None:
    """Steps every parameter of a two-layer MLP, for two different learning rates."""
    n_in, hidden, n_out = _dims(2, 6), _dims(4, 8), _dims(1, 4)
    for lr in (0.05, 0.5):
        model = _mlp(n_in, hidden, n_out)
        _run(student, reference, model, _dims(4, 10), lr, f"an MLP {n_in} -> {hidden} -> {n_out}")


@check("sgd_step", points=1, hint=HINT_IN_PLACE)
def check_sgd_step_updates_in_place(student: Any, reference: ModuleType) -> None:
    """Updates the caller's model itself, in place, and returns it."""
    n_in, batch, lr = _dims(2, 6), _dims(4, 10), 0.2
    model = nn.Linear(n_in, 1)
    x, y = torch.randn(batch, n_in), torch.randn(batch, 1)
    expected = reference.sgd_step(copy.deepcopy(model), x, y, lr)
    got, args_after, _ = student.sgd_step.returning_args(model, x, y, lr)
    what = f"sgd_step(model, x, y, lr={lr:g}) for nn.Linear({n_in}, 1)"
    caller = args_after[0]
    if type(got) is nn.Linear and type(caller) is nn.Linear and _same(got, expected) and _same(caller, model):
        fail(f"{what}: the returned model took the step, but the caller's model is unchanged", hint=HINT_IN_PLACE)
    _assert_stepped(args_after[0], model, expected, x, y, lr, f"{what}: the caller's model after the call")
    if got is not args_after[0]:
        fail(f"{what}: returned {type(got).__name__ if got is not None else 'None'}, not the model it was given",
             hint=HINT_IN_PLACE)
