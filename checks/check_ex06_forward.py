"""Checks for ex06_forward: forward_pass, predict_class."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import nn

from grader.assertions import assert_tensor_close, assert_tensor_equal, assert_type, looks_like, shape_text
from grader.checking import check, fail

HINT_CHANGED = (
    "Running a model must not change it: call model(x) only, with no backward(), optimizer step "
    "or in-place edits of the weights."
)
HINT_FIRST_LAYER = "Run x through the whole model, model(x), not just its first layer."
HINT_DIM0 = "Take the argmax of each row, along dim 1 (or -1): dim 0 picks a sample for each class."
HINT_VALUES = "max gives the largest values; argmax gives their indices, which are the classes."
HINT_KEEPDIM = "The result has shape (batch,): drop keepdim=True (or squeeze the last dimension)."
HINT_FLAT = "argmax() without dim looks at the whole batch as one: pass dim=1."
HINT_INT64 = "Return the indices as argmax gives them, an int64 tensor: do not convert them to float."
FORWARD_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def _dims(low: int = 2, high: int = 7) -> int:
    return int(torch.randint(low, high, ()))


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


# --------------------------------------------------------------------------- forward_pass


def _check_forward(student: Any, reference: ModuleType, model: nn.Module, x: torch.Tensor, what: str) -> None:
    # The student's call runs on a copy of the model (it crosses to the sandbox),
    # so the reference can take the original, after it.
    got = student.forward_pass(model, x)
    expected = reference.forward_pass(model, x)
    hint = ""
    if isinstance(model, nn.Sequential) and len(model) > 1:
        with torch.no_grad():
            if looks_like(got, model[0](x), **FORWARD_TOLERANCE):
                hint = HINT_FIRST_LAYER
    what = f"forward_pass(model, x) for {what} and x of shape {shape_text(x.shape)}"
    assert_tensor_close(got, expected, what=what, hint=hint, check_dtype=False, **FORWARD_TOLERANCE)


@check("forward_pass", points=1, hint="The output of a model is model(x).")
def check_forward_pass_batch(student: Any, reference: ModuleType) -> None:
    """Returns model(x) for a small MLP and a batch x."""
    n_in, hidden, n_out = _dims(2, 6), _dims(6, 10), _dims(2, 5)
    _check_forward(
        student,
        reference,
        _mlp(n_in, hidden, n_out),
        torch.randn(_dims(3, 8), n_in),
        f"an MLP {n_in} -> {hidden} -> {n_out}",
    )


@check("forward_pass", points=1, hint="Any module is called the same way: model(x).")
def check_forward_pass_other_models(student: Any, reference: ModuleType) -> None:
    """Returns model(x) for a single Linear on one sample and for a deeper model ending in a softmax."""
    n_in, n_out = _dims(2, 6), _dims(2, 6)
    _check_forward(student, reference, nn.Linear(n_in, n_out), torch.randn(n_in), f"nn.Linear({n_in}, {n_out})")
    model = nn.Sequential(nn.Linear(n_in, 8), nn.Tanh(), nn.Linear(8, n_out), nn.Softmax(dim=-1))
    _check_forward(student, reference, model, torch.randn(_dims(2, 6), n_in), "Linear, Tanh, Linear, Softmax")


@check("forward_pass", points=1, hint="Only read the model: no training step, no edits of its weights.")
def check_forward_pass_leaves_parameters_unchanged(student: Any, reference: ModuleType) -> None:
    """Leaves every parameter of the model unchanged, and still returns model(x)."""
    n_in, hidden, n_out = _dims(2, 6), _dims(6, 10), _dims(2, 5)
    model = _mlp(n_in, hidden, n_out)
    x = torch.randn(_dims(3, 8), n_in)
    before = [(name, p.detach().clone()) for name, p in model.named_parameters()]
    got, args_after, _ = student.forward_pass.returning_args(model, x)  # on a copy, as above
    expected = reference.forward_pass(model, x)
    model_after = args_after[0]
    what = f"forward_pass(model, x) for an MLP {n_in} -> {hidden} -> {n_out}"
    assert_type(model_after, nn.Sequential, what=f"{what}: the model after the call", hint=HINT_CHANGED)
    after = dict(model_after.named_parameters())
    for name, value in before:
        if name not in after:
            fail(f"{what}: the model lost its parameter {name}", hint=HINT_CHANGED)
        assert_tensor_equal(
            after[name].detach(), value, what=f"{what}: parameter {name} after the call", hint=HINT_CHANGED
        )
    assert_tensor_close(got, expected, what=f"{what}, output", rtol=1e-4, atol=1e-5, check_dtype=False)


# --------------------------------------------------------------------------- predict_class


def _check_predict(student: Any, reference: ModuleType, model: nn.Module, x: torch.Tensor, what: str) -> None:
    expected = reference.predict_class(model, x)
    got = student.predict_class(model, x)
    with torch.no_grad():
        scores = model(x)
    hint = ""
    if type(got) is torch.Tensor:
        if looks_like(got, scores.argmax(dim=0)) and not looks_like(got, expected):
            hint = HINT_DIM0
        elif got.dtype.is_floating_point and looks_like(got, scores.max(dim=1).values):
            hint = HINT_VALUES
        elif got.shape == (x.shape[0], 1):
            hint = HINT_KEEPDIM
        elif got.dim() == 0 and x.shape[0] > 0:
            hint = HINT_FLAT
        elif got.dtype.is_floating_point and looks_like(got, expected):
            hint = HINT_INT64
    what = f"predict_class(model, x) for {what} and x of shape {shape_text(x.shape)}"
    assert_tensor_equal(got, expected, what=what, hint=hint)


@check("predict_class", points=1, hint="The predicted class of each sample is model(x).argmax(dim=1).")
def check_predict_class_batch(student: Any, reference: ModuleType) -> None:
    """Returns the index of the largest output of each sample, as int64 of shape (batch,)."""
    n_in, n_classes = _dims(2, 6), _dims(3, 6)
    batch = n_classes + _dims(2, 6)
    _check_predict(
        student, reference, nn.Linear(n_in, n_classes), torch.randn(batch, n_in) * 3, f"nn.Linear({n_in}, {n_classes})"
    )


@check("predict_class", points=1, hint="Take the argmax along dim 1: one class per sample (row).")
def check_predict_class_square_batch(student: Any, reference: ModuleType) -> None:
    """Takes the argmax of each row even when the batch size equals the number of classes."""
    n_in, n_classes = _dims(2, 6), _dims(4, 8)
    _check_predict(
        student,
        reference,
        _mlp(n_in, 8, n_classes),
        torch.randn(n_classes, n_in) * 3,
        f"an MLP {n_in} -> 8 -> {n_classes}",
    )


@check("predict_class", points=1, hint="Even a batch of one sample gives a result of shape (batch,) = (1,).")
def check_predict_class_single_row(student: Any, reference: ModuleType) -> None:
    """Returns shape (1,) for a batch of one sample, also for a model ending in a softmax."""
    n_in, n_classes = _dims(2, 6), _dims(3, 7)
    model = nn.Sequential(nn.Linear(n_in, n_classes), nn.Softmax(dim=-1))
    _check_predict(student, reference, model, torch.randn(1, n_in) * 3, "Linear then Softmax")
    _check_predict(student, reference, model, torch.randn(_dims(8, 12), n_in) * 3, "Linear then Softmax")
