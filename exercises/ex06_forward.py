"""The forward pass: running a model and reading its prediction.

Calling ``model(x)`` runs ``x`` through the model's layers. Running a model
only reads its parameters: it must not train it or change its weights.
A classifier's prediction for each sample is the index of its largest output.
"""

import torch
from torch import nn


def forward_pass(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return the output of running ``x`` through ``model``.

    Contract: the tensor ``model(x)``, with ``model``'s parameters left
    unchanged (wrapping the call in ``torch.no_grad()`` is fine).

    >>> forward_pass(nn.Linear(4, 3), torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """
    raise NotImplementedError


def predict_class(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return the predicted class of every sample of the batch ``x``.

    ``x`` has shape ``(batch, n_features)`` and ``model(x)`` one row of scores
    per sample; the prediction is the index of the largest score *in each
    row*, i.e. along dimension 1, not down the batch.

    Contract: an int64 tensor of shape ``(batch,)``.

    >>> predict_class(nn.Linear(4, 3), torch.zeros(2, 4)).shape
    torch.Size([2])
    """
    raise NotImplementedError
