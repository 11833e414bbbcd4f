"""Activations: sigmoid, softmax and simple classifiers.

The sigmoid ``1 / (1 + exp(-x))`` squashes any number into ``(0, 1)``: a
probability for a yes/no question. The softmax turns a vector of scores into
probabilities that sum to 1: ``exp(x_i) / sum_j exp(x_j)``. Computed
naively, ``exp(1000)`` overflows to ``inf`` and the result becomes ``nan``;
subtracting the maximum first (which does not change the softmax) avoids it,
and ``torch.sigmoid`` / ``torch.softmax`` already do this for you.
"""

import torch
from torch import nn


def apply_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Return the element-wise sigmoid of ``x``.

    Contract: same shape as ``x``, within float tolerance of
    ``torch.sigmoid(x)`` for every finite input, large magnitudes such as
    ±1000 included (no ``nan``).

    >>> apply_sigmoid(torch.tensor([0.0, 1000.0, -1000.0]))
    tensor([0.5000, 1.0000, 0.0000])
    """
    raise NotImplementedError


def apply_softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Return the softmax of ``x`` along dimension ``dim``.

    The values along ``dim`` become positive and sum to 1; ``dim`` may be
    negative (``-1`` is the last dimension).

    Contract: same shape as ``x``, within float tolerance of
    ``torch.softmax(x, dim)``, finite for inputs as large as ±1000.

    >>> apply_softmax(torch.tensor([[1.0, 1.0], [0.0, 1000.0]]), dim=1)
    tensor([[0.5000, 0.5000],
            [0.0000, 1.0000]])
    """
    raise NotImplementedError


def binary_classifier(n_features: int) -> nn.Sequential:
    """Return a logistic-regression model for ``n_features`` inputs.

    It maps a batch ``(batch, n_features)`` to probabilities ``(batch, 1)``.
    Contract: an ``nn.Sequential`` of one ``nn.Linear(n_features, 1)``
    followed by ``nn.Sigmoid()``.

    >>> binary_classifier(4)
    Sequential(
      (0): Linear(in_features=4, out_features=1, bias=True)
      (1): Sigmoid()
    )
    """
    raise NotImplementedError


def multiclass_classifier(n_features: int, n_classes: int) -> nn.Sequential:
    """Return a model giving ``n_classes`` probabilities for ``n_features`` inputs.

    Contract: an ``nn.Sequential`` of ``nn.Linear(n_features, n_classes)``
    followed by ``nn.Softmax`` over the *last* dimension, so that it works on
    a batch ``(batch, n_features)`` and on a single sample ``(n_features,)``,
    each output row summing to 1. (``dim=1`` would fail on a single sample,
    which has only dimension 0.)

    >>> multiclass_classifier(4, 3)
    Sequential(
      (0): Linear(in_features=4, out_features=3, bias=True)
      (1): Softmax(dim=-1)
    )
    """
    raise NotImplementedError
