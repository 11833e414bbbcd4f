"""Checks for lx01_losses: mse_loss, cross_entropy_loss."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

from grader.assertions import assert_tensor_close, assert_type, looks_like, shape_text
from grader.checking import check, fail

HINT_SUM = "Average over every element with .mean(): .sum() grows with the batch size."
HINT_NOT_SQUARED = "Square the differences before averaging: (pred - target) ** 2."
HINT_RMSE = "The mean squared error has no square root at the end."
HINT_UNREDUCED = "Reduce the squared errors to a single number with .mean(): the loss is a 0-d tensor."
HINT_FLOAT = "Return the tensor itself: .item() or float(...) turns it into a Python float that cannot backpropagate."
HINT_CE_SUM = "Average the per-sample losses over the batch with .mean(), not .sum()."
HINT_CE_UNSTABLE = (
    "exp() of a large logit overflows to inf: use torch.log_softmax(logits, dim=1), "
    "or subtract each row's maximum before exponentiating."
)
HINT_CE_DIM = "Normalise each row (one sample) with softmax along dim=1, not down the batch along dim=0."
HINT_CE_SIGN = "The cross-entropy is the *negative* log-probability of the correct class."


def _dims(low: int = 2, high: int = 7) -> int:
    return int(torch.randint(low, high, ()))


# --------------------------------------------------------------------------- mse_loss


def _check_mse(student: Any, reference: ModuleType, pred: torch.Tensor, target: torch.Tensor) -> None:
    what = f"mse_loss(pred, target) for pred and target of shape {shape_text(pred.shape)}"
    expected = reference.mse_loss(pred, target)
    got = student.mse_loss(pred, target)
    diff = pred - target
    hint = ""
    if isinstance(got, float):
        hint = HINT_FLOAT
    elif looks_like(got, (diff**2).sum()):
        hint = HINT_SUM
    elif looks_like(got, diff.mean()) or looks_like(got, diff.abs().mean()):
        hint = HINT_NOT_SQUARED
    elif looks_like(got, expected.sqrt()):
        hint = HINT_RMSE
    elif type(got) is torch.Tensor and got.shape == pred.shape:
        hint = HINT_UNREDUCED
    assert_tensor_close(got, expected, what=what, hint=hint, rtol=1e-5, atol=1e-6)


@check("mse_loss", points=1, hint="The MSE is ((pred - target) ** 2).mean().")
def check_mse_loss_vector(student: Any, reference: ModuleType) -> None:
    """Returns the mean squared error of two vectors as a 0-d tensor."""
    n = _dims(4, 10)
    _check_mse(student, reference, torch.randn(n), torch.randn(n))


@check("mse_loss", points=1, hint="Average over every element of the batch, not per row.")
def check_mse_loss_batch(student: Any, reference: ModuleType) -> None:
    """Averages over every element of a (batch, features) tensor."""
    shape = (_dims(3, 8), _dims(2, 5))
    _check_mse(student, reference, torch.randn(shape) * 3, torch.randn(shape))


@check("mse_loss", points=1, hint="A perfect prediction has loss 0; the loss keeps the input's dtype.")
def check_mse_loss_edge_cases(student: Any, reference: ModuleType) -> None:
    """Is 0 for a perfect prediction, and keeps a float64 input's dtype."""
    x = torch.randn(_dims(3, 6), 2)
    _check_mse(student, reference, x, x.clone())
    n = _dims(4, 9)
    _check_mse(student, reference, torch.randn(n, dtype=torch.float64), torch.randn(n, dtype=torch.float64))


# --------------------------------------------------------------------------- cross_entropy_loss


def _check_ce(student: Any, reference: ModuleType, logits: torch.Tensor, labels: torch.Tensor) -> None:
    what = (
        f"cross_entropy_loss(logits, labels) for logits of shape {shape_text(logits.shape)} "
        f"(largest |logit| {logits.abs().max().item():.3g})"
    )
    expected = reference.cross_entropy_loss(logits, labels)
    got = student.cross_entropy_loss(logits, labels)
    assert_type(got, torch.Tensor, what=what, hint=HINT_FLOAT if isinstance(got, float) else "")
    hint = ""
    picked = torch.log_softmax(logits, dim=1)[torch.arange(len(labels)), labels]
    down_batch = torch.log_softmax(logits, dim=0)[torch.arange(len(labels)), labels]
    if got.dim() == 0 and not bool(torch.isfinite(got)):
        hint = HINT_CE_UNSTABLE
    elif looks_like(got, -picked.sum()):
        hint = HINT_CE_SUM
    elif looks_like(got, picked.mean()):
        hint = HINT_CE_SIGN
    elif looks_like(got, -down_batch.mean()):
        hint = HINT_CE_DIM
    assert_tensor_close(got, expected, what=what, hint=hint, rtol=1e-4, atol=1e-5)


@check("cross_entropy_loss", points=1, hint="Take -log_softmax(logits, dim=1) at each label, then the mean.")
def check_cross_entropy_small_logits(student: Any, reference: ModuleType) -> None:
    """Matches F.cross_entropy on a batch of ordinary logits."""
    batch, classes = _dims(3, 8), _dims(3, 6)
    _check_ce(student, reference, torch.randn(batch, classes), torch.randint(0, classes, (batch,)))


@check("cross_entropy_loss", points=1, hint="Normalise each row (one sample) separately: softmax along dim=1.")
def check_cross_entropy_square_batch(student: Any, reference: ModuleType) -> None:
    """Normalises each sample's row even when the batch size equals the number of classes."""
    n = _dims(3, 7)
    _check_ce(student, reference, torch.randn(n, n) * 2, torch.randint(0, n, (n,)))


@check("cross_entropy_loss", points=2, hint=HINT_CE_UNSTABLE)
def check_cross_entropy_large_logits(student: Any, reference: ModuleType) -> None:
    """Stays finite and exact for logits in the thousands (no overflow in exp)."""
    batch, classes = _dims(3, 7), _dims(3, 6)
    logits = torch.randn(batch, classes) * 1000
    labels = torch.randint(0, classes, (batch,))
    expected = reference.cross_entropy_loss(logits, labels)
    if not bool(torch.isfinite(expected)):
        fail("the reference cross_entropy_loss is not finite on large logits: fix the solution")
    _check_ce(student, reference, logits, labels)
