"""Linear layers and their parameters.

``nn.Linear(in_features, out_features)`` holds a ``weight`` of shape
``(out_features, in_features)`` and a ``bias`` of shape ``(out_features,)``.
Those tensors are its *parameters*: the numbers training adjusts.
"""

from torch import nn


def make_linear(n_features: int, n_classes: int) -> nn.Linear:
    """Return a linear layer mapping ``n_features`` inputs to ``n_classes`` outputs.

    Contract: an ``nn.Linear`` with ``in_features == n_features``,
    ``out_features == n_classes``, and a bias.

    >>> make_linear(4, 3)
    Linear(in_features=4, out_features=3, bias=True)
    """
    raise NotImplementedError


def linear_param_count(in_features: int, out_features: int) -> int:
    """Return how many parameters ``nn.Linear(in_features, out_features)`` has.

    One weight per input per output, plus one bias per output.
    Contract: that number, as a Python ``int``.

    >>> linear_param_count(9, 4)
    40
    """
    raise NotImplementedError


def count_parameters(model: nn.Module) -> int:
    """Return the number of scalar parameters in ``model``, any ``nn.Module``.

    ``model.parameters()`` yields every parameter tensor once, trainable
    (``requires_grad=True``) or frozen, and a tensor shared by two layers only
    once; ``t.numel()`` counts the scalars in one tensor. Buffers, such as
    the running mean of ``nn.BatchNorm1d``, live in ``model.state_dict()``
    but are not parameters.

    Contract: every element of every parameter, trainable or frozen, each
    shared parameter counted once, buffers not counted; a Python ``int``.

    >>> count_parameters(nn.Linear(9, 4))
    40
    """
    raise NotImplementedError
