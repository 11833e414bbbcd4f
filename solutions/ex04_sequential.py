"""Sequential: stacking linear layers (reference solution)."""

from itertools import pairwise

import torch
from torch import nn


def stack_layers(sizes: list[int]) -> nn.Sequential:
    if len(sizes) < 2:
        raise ValueError(f"stack_layers needs at least 2 sizes, got {len(sizes)}")
    return nn.Sequential(*(nn.Linear(n_in, n_out) for n_in, n_out in pairwise(sizes)))


def stacked_param_count(sizes: list[int]) -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in pairwise(sizes))


def layer_sizes_for(features: torch.Tensor, labels: torch.Tensor) -> tuple[int, int]:
    return features.shape[1], torch.unique(labels).numel()
