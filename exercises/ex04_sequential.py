"""Sequential: stacking linear layers.

``nn.Sequential(layer1, layer2, ...)`` runs its layers one after the other,
each taking the previous one's output. Stacking linear layers means each
layer's ``out_features`` must equal the next layer's ``in_features``.
"""

import torch
from torch import nn


def stack_layers(sizes: list[int]) -> nn.Sequential:
    """Return a stack of linear layers going through ``sizes``.

    Layer ``i`` maps ``sizes[i]`` features to ``sizes[i+1]``, so ``sizes``
    with ``n`` entries gives ``n - 1`` layers.

    Contract: an ``nn.Sequential`` of exactly ``len(sizes) - 1``
    ``nn.Linear`` layers (each with its bias, as ``nn.Linear`` makes by
    default) and nothing else: no activations. Raise ``ValueError`` when
    ``sizes`` has fewer than 2 entries.

    >>> stack_layers([4, 8, 2])
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): Linear(in_features=8, out_features=2, bias=True)
    )
    """
    raise NotImplementedError


def stacked_param_count(sizes: list[int]) -> int:
    """Return the number of parameters ``stack_layers(sizes)`` would have.

    Each layer has ``sizes[i] * sizes[i+1]`` weights and ``sizes[i+1]``
    biases. Computing it without building the layers is fine.
    Contract: that number, as a Python ``int``.

    >>> stacked_param_count([4, 8, 2])
    58
    """
    raise NotImplementedError


def layer_sizes_for(features: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    """Return ``(n_inputs, n_outputs)`` for a classifier of this data set.

    ``features`` is a float tensor of shape ``(n_samples, n_features)``,
    ``labels`` an int64 tensor of shape ``(n_samples,)``. The classifier
    needs one input per feature and one output per class, and the classes are
    the *distinct labels present*: labels ``{0, 3, 7}`` are 3 classes, not 8.

    Contract: a tuple of two ``int`` values: the number of features and the
    number of distinct labels present.

    >>> layer_sizes_for(torch.zeros(5, 2), torch.tensor([0, 1, 1, 0, 2]))
    (2, 3)
    """
    raise NotImplementedError
