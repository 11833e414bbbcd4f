"""Checks for ex06_forward: forward_pass, predict_class."""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any, NamedTuple

import torch
from torch import nn

from grader.assertions import (
    across_calls_hint,
    assert_tensor_close,
    assert_tensor_equal,
    assert_type,
    describe,
    explain_known_errors,
    looks_like,
    shape_text,
    unchanged,
    unchanged_model,
)
from grader.checking import check, fail
from grader.inputs import float_tensors, in_one_request

HINT_CHANGED = (
    "Running a model must not change it: call model(x) only, with no backward(), optimizer step "
    "or in-place edits of the weights, and leave requires_grad as it is (torch.no_grad() switches "
    "gradients off without touching the model)."
)
HINT_FIRST_LAYER = "Run x through the whole model, model(x), not just its first layer."
HINT_DIM0 = "Take the argmax of each row, along dim 1 (or -1): dim 0 picks a sample for each class."
HINT_VALUES = "max gives the largest values; argmax gives their indices, which are the classes."
HINT_KEEPDIM = "The result has shape (batch,): drop keepdim=True (or squeeze the last dimension)."
HINT_FLAT = "argmax() without dim looks at the whole batch as one: pass dim=1."
HINT_INT64 = "Return the indices as argmax gives them, an int64 tensor: do not convert them to float."
HINT_NEITHER_MODE = (
    "The output must be model(x), with the model in training or in eval mode (either is fine): "
    "no other step before or after it."
)
HINT_TIES = (
    "Return exactly one index per sample, even where outputs tie: argmax(dim=1) picks one. Comparing with "
    "the maximum (out == out.max(...)) finds every tied index, so more than one for such a sample."
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


class _ModeOutput(NamedTuple):
    """What a model gives in one mode: ``base`` with any Dropout off, ``drop`` the last Dropout's p if it is on."""

    base: torch.Tensor
    drop: float | None


def _mode_outputs(model: nn.Module, x: torch.Tensor) -> list[_ModeOutput]:
    """The model's output in its own mode, then in the other, each from a copy of it.

    The contract accepts either: a student may call model.eval() or model.train()
    first. Each runs on a copy, as training mode updates BatchNorm's statistics.
    Dropout in training mode is random, so the checks' models put it last, where
    its effect can be judged output by output: dropped (0) or kept and scaled.
    """
    outputs = []
    for training in (model.training, not model.training):
        twin = copy.deepcopy(model).train(training)
        dropouts = [m for m in twin.modules() if isinstance(m, nn.Dropout)]
        drop = dropouts[-1].p if training and dropouts else None
        for m in dropouts:
            m.p = 0.0
        with torch.no_grad():
            outputs.append(_ModeOutput(twin(x), drop))
    return outputs


def _fits(got: Any, output: _ModeOutput) -> bool:
    """Whether ``got`` is the model's output in this mode (within tolerance; any Dropout mask)."""
    if output.drop is None:
        return looks_like(got, output.base, **FORWARD_TOLERANCE)
    if type(got) is not torch.Tensor or got.shape != output.base.shape:
        return False
    out = got.detach().to(output.base.dtype)
    kept = output.base / (1 - output.drop)
    return bool(((out == 0) | torch.isclose(out, kept, **FORWARD_TOLERANCE)).all())


def _check_forward(student: Any, reference: ModuleType, model: nn.Module, x: torch.Tensor, what: str) -> None:
    """``forward_pass(model, x)`` must be the model's output in its own mode or in the other (the contract accepts both)."""
    what = f"forward_pass(model, x) for {what} and x of shape {shape_text(x.shape)}"
    outputs = _mode_outputs(model, x)
    # The student's call runs on a copy of the model (it crosses to the sandbox).
    with explain_known_errors(what):
        got = student.forward_pass(model, x)
    if any(_fits(got, output) for output in outputs):
        return
    hint = HINT_NEITHER_MODE if any(isinstance(m, (nn.BatchNorm1d, nn.Dropout)) for m in model.modules()) else ""
    if isinstance(model, nn.Sequential) and len(model) > 1:
        with torch.no_grad():
            if looks_like(got, copy.deepcopy(model[0])(x), **FORWARD_TOLERANCE):
                hint = HINT_FIRST_LAYER
    own = outputs[0]
    if own.drop is not None:
        assert_type(got, torch.Tensor, what=what)
        fail(
            f"{what}: expected the model's output in training mode (each output dropped, 0, or kept and "
            f"scaled by 1 / (1 - {own.drop}), as Dropout does) or in eval mode; got neither",
            hint=hint,
        )
    expected = reference.forward_pass(copy.deepcopy(model), x)
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


@check("forward_pass", points=1, hint="Only read the model: no training step, no edits of its weights or flags.")
def check_forward_pass_leaves_parameters_unchanged(student: Any, reference: ModuleType) -> None:
    """Leaves every parameter, buffer and requires_grad flag of the model unchanged, and x too; still returns model(x).

    The model has a frozen first layer and a buffer of its own, so freezing
    (model.requires_grad_(False)) or unfreezing it for inference is seen. Its
    train/eval mode is not compared: the contract lets forward_pass switch it.
    """
    n_in, hidden, n_out = _dims(2, 6), _dims(6, 10), _dims(2, 5)
    model = _mlp(n_in, hidden, n_out)
    model[0].requires_grad_(False)
    model.register_buffer("class_weights", torch.rand(n_out))
    x = torch.randn(_dims(3, 8), n_in)
    before, x_before = copy.deepcopy(model), x.clone()
    got, args_after, _ = student.forward_pass.returning_args(model, x)  # on a copy, as above
    expected = reference.forward_pass(copy.deepcopy(model), x)
    model_after, x_after = args_after
    what = f"forward_pass(model, x) for an MLP {n_in} -> {hidden} -> {n_out} (first layer frozen)"
    unchanged_model(before, model_after, what=f"{what}: the model after the call", hint=HINT_CHANGED)
    unchanged(x_before, x_after, what=f"{what}: x after the call", hint="Leave x as it was: do not modify it in place.")
    assert_tensor_close(got, expected, what=f"{what}, output", rtol=1e-4, atol=1e-5, check_dtype=False)


@check("forward_pass", points=1, hint=HINT_NEITHER_MODE)
def check_forward_pass_model_in_training_mode(student: Any, reference: ModuleType) -> None:
    """A model given in training mode: its output in training mode (BatchNorm with the batch's statistics, Dropout dropping) or, if the function switches to eval mode, in eval mode; both are accepted."""
    n_in, hidden, n_out = _dims(2, 6), _dims(6, 10), _dims(4, 7)
    model = nn.Sequential(nn.Linear(n_in, hidden), _trained_batchnorm(hidden), nn.ReLU(), nn.Linear(hidden, n_out))
    x = torch.randn(_dims(4, 8), n_in)
    _check_forward(student, reference, model.train(), x, "Linear, BatchNorm1d, ReLU, Linear in training mode")
    model = nn.Sequential(nn.Linear(n_in, n_out), nn.Dropout(0.5)).train()
    _check_forward(student, reference, model, torch.randn(_dims(6, 10), n_in), "Linear, Dropout(0.5) in training mode")


@check("forward_pass", points=1, hint=HINT_NEITHER_MODE)
def check_forward_pass_model_in_eval_mode(student: Any, reference: ModuleType) -> None:
    """A model given in eval mode: its output in eval mode (BatchNorm's running statistics, no Dropout) or, if the function switches to training mode, in training mode; both are accepted."""
    n_in, hidden, n_out = _dims(2, 6), _dims(6, 10), _dims(2, 5)
    model = nn.Sequential(
        nn.Linear(n_in, hidden), _trained_batchnorm(hidden), nn.ReLU(), nn.Linear(hidden, n_out), nn.Dropout(0.5)
    ).eval()
    _check_forward(
        student,
        reference,
        model,
        torch.randn(_dims(3, 8), n_in),
        "Linear, BatchNorm1d, ReLU, Linear, Dropout in eval mode",
    )


@check("forward_pass", points=1, hint="model(x) works for a float64 model and for any x it accepts.")
def check_forward_pass_float64_model_and_views(student: Any, reference: ModuleType) -> None:
    """Runs a float64 model on float64 x that is a transposed view and requires grad, keeping its dtype."""
    n_in, n_out, batch = _dims(2, 6), _dims(2, 6), _dims(3, 8)
    model = _mlp(n_in, 8, n_out).double()
    x = torch.randn(n_in, batch, dtype=torch.float64).T.requires_grad_()
    _check_forward(student, reference, model, x, "a float64 MLP (x: a transposed float64 view that requires grad)")


@check("forward_pass", points=1, hint="model(x) works for every x the model accepts: no NumPy, no .float().")
def check_forward_pass_any_tensor(student: Any, reference: ModuleType) -> None:
    """Runs a model on x of every float kind the contract names (requires grad, an nn.Parameter, transposed, step-sliced and expanded views, an empty batch, and float16, bfloat16, float64 with a model of that dtype)."""
    n_in, n_out = _dims(2, 6), _dims(2, 6)
    model = _mlp(n_in, 8, n_out)
    # the model takes (batch, n_in)
    cases = [
        (kind, copy.deepcopy(model).to(x.dtype), x) for kind, x in float_tensors((_dims(3, 8), n_in)) if x.dim() == 2
    ]
    ahead = in_one_request(student, "forward_pass", [(typed, x) for _, typed, x in cases])
    for kind, typed, x in cases:
        if x.dtype in (torch.float16, torch.bfloat16):
            _check_forward_half(ahead, typed, x, kind)
        else:
            _check_forward(ahead, reference, typed, x, f"an MLP (x: {kind})")


def _check_forward_half(student: Any, model: nn.Module, x: torch.Tensor, kind: str) -> None:
    """Half precision: compared with the float64 output within that dtype's precision, keeping the dtype."""
    what = f"forward_pass(model, x) for an MLP of dtype {x.dtype} (x: {kind}) and x of shape {shape_text(x.shape)}"
    with explain_known_errors(what):
        got = student.forward_pass(model, x)
    with torch.no_grad():
        expected = copy.deepcopy(model).double()(x.double()).to(x.dtype)
    assert_tensor_close(got, expected, what=what, rtol=0.05, atol=0.05)


@check("forward_pass", points=1, hint="Return model(x) itself, a new tensor on every call: keep nothing between calls.")
def check_forward_pass_answers_stay(student: Any, reference: ModuleType) -> None:
    """A result stays the answer: three batches of one shape through one model, in a row, each keep their own output.

    Read after the last call in one worker: one output tensor refilled by
    every call, or an output remembered by x's shape, is caught.
    """
    n_in, n_out, batch = _dims(2, 6), _dims(2, 6), _dims(3, 8)
    model = _mlp(n_in, 8, n_out)
    xs = [torch.randn(batch, n_in) for _ in range(3)]
    got = student.forward_pass.in_sequence([((model, x), {}) for x in xs])
    expected = [reference.forward_pass(copy.deepcopy(model), x) for x in xs]
    hint = across_calls_hint(got, expected, lambda a, b: looks_like(a, b, **FORWARD_TOLERANCE))
    for i, (value, want) in enumerate(zip(got, expected, strict=True)):
        what = f"forward_pass(model, x) for the batch {i + 1} of 3 (shape {shape_text((batch, n_in))}), called in a row"
        assert_tensor_close(
            value, want, what=f"{what}, read after the last call", hint=hint, check_dtype=False, **FORWARD_TOLERANCE
        )


# --------------------------------------------------------------------------- predict_class


def _predicts(got: Any, scores: torch.Tensor) -> bool:
    """Whether ``got`` is one int64 index of a largest output per sample of ``scores`` (any one where outputs tie)."""
    if type(got) is not torch.Tensor or got.dtype != torch.int64 or got.shape != scores.shape[:1]:
        return False
    if not scores.shape[0]:
        return True
    if bool(((got < 0) | (got >= scores.shape[1])).any()):
        return False
    best = scores.max(dim=1).values
    chosen = scores.gather(1, got.unsqueeze(1)).squeeze(1)
    return bool((chosen >= best - 1e-6 * (1 + best.abs())).all())


def _check_predict(student: Any, reference: ModuleType, model: nn.Module, x: torch.Tensor, what: str) -> None:
    """``predict_class(model, x)``: an index of a largest output per sample, in the model's own mode or the other."""
    outputs = _mode_outputs(model, x)
    expected = reference.predict_class(copy.deepcopy(model), x)
    what = f"predict_class(model, x) for {what} and x of shape {shape_text(x.shape)}"
    with explain_known_errors(what):
        got = student.predict_class(model, x)
    if any(_predicts(got, output.base.double()) for output in outputs):
        return
    scores = outputs[0].base
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
        elif got.dim() == 1 and got.shape[0] > x.shape[0]:
            hint = HINT_TIES
    if type(got) is torch.Tensor and got.shape == expected.shape and got.dtype == expected.dtype:
        fail(
            f"{what}: expected an index of a largest output of each sample, such as {_short(expected)}, got {_short(got)}",
            hint=hint,
        )
    assert_tensor_equal(got, expected, what=what, hint=hint)


def _short(t: torch.Tensor) -> str:
    values = t.tolist()
    return str(values) if len(values) <= 12 else f"{str(values[:12])[:-1]}, ...]"


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


@check("predict_class", points=1, hint=HINT_NEITHER_MODE)
def check_predict_class_model_in_eval_mode(student: Any, reference: ModuleType) -> None:
    """A model given in eval mode, whose predictions change with the mode: predicts with it in eval mode or, if the function switches to training mode, in training mode; both are accepted."""
    model, x = _eval_model_and_batch()
    _check_predict(student, reference, model, x, "Linear, BatchNorm1d, ReLU, Linear in eval mode")
    _check_predict(student, reference, model.train(), x, "Linear, BatchNorm1d, ReLU, Linear in training mode")


def _eval_model_and_batch() -> tuple[nn.Module, torch.Tensor]:
    """An eval-mode model and a batch whose predictions change when BatchNorm uses the batch's statistics.

    Drawn again (from the check's seeded generator, so always the same) until the
    two modes disagree on some samples and the model predicts more than one class.
    No Dropout: in training mode it would make any prediction possible.
    """
    for _ in range(20):
        n_in, hidden, n_classes = _dims(3, 6), _dims(8, 12), _dims(3, 7)
        model = nn.Sequential(
            nn.Linear(n_in, hidden),
            _trained_batchnorm(hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        ).eval()
        x = torch.randn(_dims(8, 12), n_in) * 3
        own, other = (output.base.argmax(dim=1) for output in _mode_outputs(model, x))
        if int((own != other).sum()) >= 2 and own.unique().numel() > 1:
            break
    return model, x


@check("predict_class", points=1, hint=HINT_TIES)
def check_predict_class_one_index_per_tie(student: Any, reference: ModuleType) -> None:
    """Returns exactly one index per sample where outputs tie (any index of a largest output is right).

    Two models whose outputs tie exactly: every output equal (all weights zero),
    and two classes that always share the largest output (no weights, the same
    bias). The batch is never square, so one index per class is not mistaken
    for one per sample.
    """
    n_in, n_classes = _dims(2, 6), _dims(3, 7)
    batch = n_classes + _dims(1, 4)  # never square: an index per class is not one per sample
    flat = nn.Linear(n_in, n_classes)
    with torch.no_grad():
        flat.weight.zero_()
        flat.bias.fill_(0.5)
    flat_x = torch.randn(batch, n_in)
    twins = nn.Linear(n_in, n_classes)
    with torch.no_grad():
        twins.weight.mul_(0.01)
        twins.bias.zero_()
        twins.weight[0] = twins.weight[-1] = 0.0  # exactly 10 in both, whatever the matrix kernel
        twins.bias[0] = twins.bias[-1] = 10.0
    twins_x = torch.randn(batch, n_in)
    ahead = in_one_request(student, "predict_class", [(flat, flat_x), (twins, twins_x)])
    _check_predict(ahead, reference, flat, flat_x, "a Linear whose outputs all tie")
    _check_predict(ahead, reference, twins, twins_x, "a Linear whose first and last outputs tie")


@check("predict_class", points=1, hint="model(x).argmax(dim=1) works for a float64 model and any x it accepts.")
def check_predict_class_float64_model_and_views(student: Any, reference: ModuleType) -> None:
    """Predicts with a float64 model on float64 x that is a transposed view, still returning int64 indices."""
    n_in, n_classes, batch = _dims(2, 6), _dims(3, 7), _dims(6, 12)
    model = _mlp(n_in, 8, n_classes).double()
    x = (torch.randn(n_in, batch, dtype=torch.float64) * 3).T
    _check_predict(student, reference, model, x, "a float64 MLP (x: a transposed float64 view)")


@check("predict_class", points=1, hint="Compute each prediction from the model and x you are given, on every call.")
def check_predict_class_answers_stay(student: Any, reference: ModuleType) -> None:
    """A result stays the answer: three batches of one shape, in a row, each keep their own predictions (read after the last call).

    Batches scaled so that their predictions differ; an answer remembered by
    x's shape, or one tensor refilled by every call, is caught.
    """
    n_in, n_classes, batch = _dims(2, 6), _dims(3, 6), _dims(6, 10)
    model = nn.Linear(n_in, n_classes)
    xs = [torch.randn(batch, n_in) * 3 for _ in range(3)]
    got = student.predict_class.in_sequence([((model, x), {}) for x in xs])
    scores = [model(x).detach().double() for x in xs]
    expected = [s.argmax(dim=1) for s in scores]
    hint = across_calls_hint(got, expected, looks_like)
    for i, (value, score) in enumerate(zip(got, scores, strict=True)):
        if not _predicts(value, score):
            what = f"predict_class(model, x) for the batch {i + 1} of 3 (shape {shape_text((batch, n_in))}), called in a row"
            fail(f"{what}, read after the last call: expected {_short(expected[i])}, got {describe(value)}", hint=hint)


@check("predict_class", points=1, hint="model(x).argmax(dim=1) works for every x the model accepts.")
def check_predict_class_any_tensor(student: Any, reference: ModuleType) -> None:
    """Predicts for x of every float kind the contract names (requires grad, an nn.Parameter, transposed, step-sliced and expanded views, an empty batch, and float16, bfloat16, float64 with a model of that dtype)."""
    n_in, n_classes = _dims(2, 6), _dims(3, 7)
    model = _mlp(n_in, 8, n_classes)
    # the model takes (batch, n_in)
    cases = [
        (kind, copy.deepcopy(model).to(x.dtype), x)
        for kind, x in float_tensors((_dims(3, 8), n_in), scale=3)
        if x.dim() == 2
    ]
    ahead = in_one_request(student, "predict_class", [(typed, x) for _, typed, x in cases])
    for kind, typed, x in cases:
        _check_predict(ahead, reference, typed, x, f"an MLP (x: {kind})")


@check("predict_class", points=1, hint="Only read the model: no training step, no edits of its weights or flags.")
def check_predict_class_leaves_model_unchanged(student: Any, reference: ModuleType) -> None:
    """Leaves every parameter, buffer and requires_grad flag of the model unchanged, and x too; still predicts right.

    The model has a frozen first layer and a buffer of its own; its train/eval
    mode is not compared (the contract lets predict_class switch it).
    """
    n_in, n_classes, batch = _dims(2, 6), _dims(3, 7), _dims(4, 9)
    model = _mlp(n_in, 8, n_classes)
    model[0].requires_grad_(False)
    model.register_buffer("class_weights", torch.rand(n_classes))
    x = torch.randn(batch, n_in) * 3
    before, x_before = copy.deepcopy(model), x.clone()
    got, (model_after, x_after), _ = student.predict_class.returning_args(model, x)
    what = f"predict_class(model, x) for an MLP {n_in} -> 8 -> {n_classes} (first layer frozen)"
    unchanged_model(before, model_after, what=f"{what}: the model after the call", hint=HINT_CHANGED)
    unchanged(x_before, x_after, what=f"{what}: x after the call", hint="Leave x as it was: do not modify it in place.")
    with torch.no_grad():
        scores = before(x_before).double()
    if not _predicts(got, scores):
        fail(f"{what}: expected {_short(scores.argmax(dim=1))}, got {describe(got)}")
