"""Checks for ex06_forward: forward_pass, predict_class."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any

import torch
from torch import nn

from grader.assertions import (
    assert_tensor_close,
    assert_tensor_equal,
    assert_type,
    explain_known_errors,
    looks_like,
    shape_text,
    unchanged,
)
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
HINT_MODE = (
    "Run the model as it is given, model(x): calling model.eval() or model.train() changes what "
    "Dropout and BatchNorm do, and changes the caller's model too."
)
HINT_INT64_ANY = "Return the indices as argmax gives them, an int64 tensor: no .int(), .float() or .to(...)."
FORWARD_TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


def _dims(low: int = 2, high: int = 7) -> int:
    return int(torch.randint(low, high, ()))


def _mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))


# --------------------------------------------------------------------------- forward_pass


def _trained_batchnorm(width: int) -> nn.BatchNorm1d:
    """A BatchNorm1d whose running statistics are far from a fresh batch's, so train and eval modes differ."""
    norm = nn.BatchNorm1d(width)
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(width) * 2)
        norm.running_var.copy_(torch.rand(width) * 3 + 0.5)
        norm.weight.copy_(torch.rand(width) + 0.5)
        norm.bias.copy_(torch.randn(width))
    return norm


def _other_mode_output(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """What the model gives in eval mode when it is in training mode, and the other way round (for hints).

    Eval mode changes nothing, so the model itself is switched there and back;
    training mode would update BatchNorm's statistics, so it runs on a copy.
    """
    with torch.no_grad():
        if model.training:
            out: torch.Tensor = model.eval()(x)
            model.train()
        else:
            out = copy.deepcopy(model).train()(x)
    return out


def _check_forward(student: Any, reference: ModuleType, model: nn.Module, x: torch.Tensor, what: str) -> None:
    # The student's call runs on a copy of the model (it crosses to the sandbox),
    # so the reference can take the original, after it.
    what = f"forward_pass(model, x) for {what} and x of shape {shape_text(x.shape)}"
    with explain_known_errors(what):
        got = student.forward_pass(model, x)
    hint = ""
    if isinstance(model, nn.Sequential) and len(model) > 1:
        with torch.no_grad():
            if looks_like(got, model[0](x), **FORWARD_TOLERANCE):
                hint = HINT_FIRST_LAYER
    with_modes = not hint and any(isinstance(m, (nn.BatchNorm1d, nn.Dropout)) for m in model.modules())
    # In training mode the reference updates BatchNorm's statistics: read the eval-mode output before.
    other = _other_mode_output(model, x) if with_modes and model.training else None
    expected = reference.forward_pass(model, x)
    if with_modes and not looks_like(got, expected, **FORWARD_TOLERANCE):
        other = _other_mode_output(model, x) if other is None else other
        hint = HINT_MODE if looks_like(got, other, **FORWARD_TOLERANCE) else ""
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
    _check_forward(student, reference, _mlp(n_in, hidden, n_out), torch.randn(1, n_in), "an MLP (a batch of one)")


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
    x_before = x.clone()
    got, args_after, _ = student.forward_pass.returning_args(model, x)  # on a copy, as above
    expected = reference.forward_pass(model, x)
    model_after, x_after = args_after
    what = f"forward_pass(model, x) for an MLP {n_in} -> {hidden} -> {n_out}"
    assert_type(model_after, nn.Sequential, what=f"{what}: the model after the call", hint=HINT_CHANGED)
    after = dict(model_after.named_parameters())
    for name, value in before:
        if name not in after:
            fail(f"{what}: the model lost its parameter {name}", hint=HINT_CHANGED)
        assert_tensor_equal(
            after[name].detach(), value, what=f"{what}: parameter {name} after the call", hint=HINT_CHANGED
        )
    unchanged(x_before, x_after, what=f"{what}: x after the call", hint="Leave x as it was: do not modify it in place.")
    assert_tensor_close(got, expected, what=f"{what}, output", rtol=1e-4, atol=1e-5, check_dtype=False)


@check("forward_pass", points=1, hint=HINT_MODE)
def check_forward_pass_model_in_training_mode(student: Any, reference: ModuleType) -> None:
    """Runs a model in training mode as it is: BatchNorm normalises with the batch's statistics, Dropout drops."""
    n_in, hidden, n_out = _dims(2, 6), _dims(6, 10), _dims(4, 7)
    model = nn.Sequential(nn.Linear(n_in, hidden), _trained_batchnorm(hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    x = torch.randn(_dims(4, 8), n_in)
    _check_forward(student, reference, model.train(), x, "Linear, BatchNorm1d, ReLU, Linear in training mode")

    # Dropout's mask comes from the seeded generator of the student's own call, so the check
    # cannot know it; it knows that every output is either dropped (0) or kept and scaled by 1 / (1 - p).
    linear = nn.Linear(n_in, n_out)
    model = nn.Sequential(linear, nn.Dropout(0.5)).train()
    x = torch.randn(_dims(6, 10), n_in)
    what = f"forward_pass(model, x) for Linear, Dropout(0.5) in training mode and x of shape {shape_text(x.shape)}"
    with explain_known_errors(what):
        got = student.forward_pass(model, x)
    with torch.no_grad():
        kept = linear(x) * 2
    assert_type(got, torch.Tensor, what=what)
    if got.shape != kept.shape:
        fail(f"{what}: expected shape {shape_text(kept.shape)}, got {shape_text(got.shape)}")
    out = got.detach().to(kept.dtype)
    dropped = out == 0
    is_kept = torch.isclose(out, kept, rtol=1e-4, atol=1e-5)
    if not bool((dropped | is_kept).all()):
        hint = HINT_MODE if looks_like(got, kept / 2, **FORWARD_TOLERANCE) else ""
        fail(f"{what}: expected each output to be dropped (0) or kept and doubled, as Dropout(0.5) does", hint=hint)
    if not bool(dropped.any()):
        fail(f"{what}: no output was dropped: the model ran without dropout", hint=HINT_MODE)


@check("forward_pass", points=1, hint=HINT_MODE)
def check_forward_pass_model_in_eval_mode(student: Any, reference: ModuleType) -> None:
    """Runs a model in eval mode as it is: BatchNorm uses its running statistics and Dropout is off."""
    n_in, hidden, n_out = _dims(2, 6), _dims(6, 10), _dims(2, 5)
    model = nn.Sequential(
        nn.Linear(n_in, hidden), _trained_batchnorm(hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, n_out)
    ).eval()
    _check_forward(
        student,
        reference,
        model,
        torch.randn(_dims(3, 8), n_in),
        "Linear, BatchNorm1d, ReLU, Dropout, Linear in eval mode",
    )


@check("forward_pass", points=1, hint="model(x) works for a float64 model and for any x it accepts.")
def check_forward_pass_float64_model_and_views(student: Any, reference: ModuleType) -> None:
    """Runs a float64 model on float64 x that is a transposed view and requires grad, keeping its dtype."""
    n_in, n_out, batch = _dims(2, 6), _dims(2, 6), _dims(3, 8)
    model = _mlp(n_in, 8, n_out).double()
    x = torch.randn(n_in, batch, dtype=torch.float64).T.requires_grad_()
    _check_forward(student, reference, model, x, "a float64 MLP (x: a transposed float64 view that requires grad)")


# --------------------------------------------------------------------------- predict_class


def _check_predict(student: Any, reference: ModuleType, model: nn.Module, x: torch.Tensor, what: str) -> None:
    expected = reference.predict_class(model, x)
    what = f"predict_class(model, x) for {what} and x of shape {shape_text(x.shape)}"
    with explain_known_errors(what):
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
        elif got.dtype != torch.int64 and looks_like(got, expected):
            hint = HINT_INT64_ANY
        elif (
            not looks_like(got, expected)
            and any(isinstance(m, (nn.BatchNorm1d, nn.Dropout)) for m in model.modules())
            and looks_like(got, _other_mode_output(model, x).argmax(dim=1))
        ):
            hint = HINT_MODE
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


@check("predict_class", points=1, hint=HINT_MODE)
def check_predict_class_model_in_eval_mode(student: Any, reference: ModuleType) -> None:
    """Predicts with a model in eval mode as it is (BatchNorm's running statistics, no Dropout)."""
    model, x = _eval_model_and_batch()
    _check_predict(student, reference, model, x, "Linear, BatchNorm1d, ReLU, Dropout, Linear in eval mode")


def _eval_model_and_batch() -> tuple[nn.Module, torch.Tensor]:
    """An eval-mode model and a batch whose predictions change when BatchNorm uses the batch's statistics.

    Drawn again (from the check's seeded generator, so always the same) until the
    two modes disagree on some samples and the model predicts more than one class.
    """
    for _ in range(20):
        n_in, hidden, n_classes = _dims(3, 6), _dims(8, 12), _dims(3, 7)
        model = nn.Sequential(
            nn.Linear(n_in, hidden),
            _trained_batchnorm(hidden),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(hidden, n_classes),
        ).eval()
        x = torch.randn(_dims(8, 12), n_in) * 3
        with torch.no_grad():
            hidden_out = model[0](x)
            predicted = model[2:](model[1](hidden_out)).argmax(dim=1)
            norm = model[1]
            batch_stats = nn.functional.batch_norm(hidden_out, None, None, norm.weight, norm.bias, training=True)
            other = model[2:](batch_stats).argmax(dim=1)
        if int((predicted != other).sum()) >= 2 and predicted.unique().numel() > 1:
            break
    return model, x


@check("predict_class", points=1, hint="model(x).argmax(dim=1) works for a float64 model and any x it accepts.")
def check_predict_class_float64_model_and_views(student: Any, reference: ModuleType) -> None:
    """Predicts with a float64 model on float64 x that is a transposed view, still returning int64 indices."""
    n_in, n_classes, batch = _dims(2, 6), _dims(3, 7), _dims(6, 12)
    model = _mlp(n_in, 8, n_classes).double()
    x = (torch.randn(n_in, batch, dtype=torch.float64) * 3).T
    _check_predict(student, reference, model, x, "a float64 MLP (x: a transposed float64 view)")
