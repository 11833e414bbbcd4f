"""Known-wrong versions of ex04_sequential, each a plausible student mistake the checks must catch."""

from itertools import pairwise

import numpy as np
import torch
from torch import nn


def stack_layers__relu_between(sizes):
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    layers = []
    for n_in, n_out in pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def stack_layers__one_layer_short(sizes):
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    return nn.Sequential(*(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 2)))


def stack_layers__no_validation(sizes):
    return nn.Sequential(*(nn.Linear(a, b) for a, b in pairwise(sizes)))


def stack_layers__index_error(sizes):
    first = nn.Linear(sizes[0], sizes[1])
    return nn.Sequential(first, *(nn.Linear(a, b) for a, b in pairwise(sizes[1:])))


def stack_layers__swapped(sizes):
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    return nn.Sequential(*(nn.Linear(b, a) for a, b in pairwise(sizes)))


def stack_layers__docstring_answer(sizes):
    if len(sizes) < 2:
        raise ValueError("need at least two sizes")
    return nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))


def stacked_param_count__forgot_bias(sizes):
    return sum(a * b for a, b in pairwise(sizes))


def stacked_param_count__bias_per_input(sizes):
    return sum(a * b + a for a, b in pairwise(sizes))


def stacked_param_count__tensor(sizes):
    return torch.tensor(sizes[:-1]) @ torch.tensor(sizes[1:]) + sum(sizes[1:])


def stacked_param_count__docstring_answer(sizes):
    return 58


def layer_sizes_for__max_plus_one(features, labels):
    return features.shape[1], int(labels.max()) + 1


def layer_sizes_for__max_label(features, labels):
    return features.shape[1], int(labels.max())


def layer_sizes_for__samples_not_features(features, labels):
    return features.shape[0], torch.unique(labels).numel()


def layer_sizes_for__list(features, labels):
    return [features.shape[1], len(torch.unique(labels))]


def layer_sizes_for__tensor_count(features, labels):
    return features.shape[1], labels.unique().shape[0] * torch.tensor(1)


def layer_sizes_for__docstring_answer(features, labels):
    return 2, 3


def layer_sizes_for__via_numpy(features, labels):
    # fails for features that require grad
    return features.numpy().shape[1], len(np.unique(labels.numpy()))


def stack_layers__one_layer_per_size(sizes):
    if len(sizes) < 2:
        raise ValueError("need two sizes")
    made = {}
    return nn.Sequential(*(made.setdefault((a, b), nn.Linear(a, b)) for a, b in pairwise(sizes)))


_built = {}


def stack_layers__cached_between_calls(sizes):
    if len(sizes) < 2:
        raise ValueError("need two sizes")
    return nn.Sequential(*(_built.setdefault((a, b), nn.Linear(a, b)) for a, b in pairwise(sizes)))


def stacked_param_count__from_collapsed_stack(sizes):
    layers = {(a, b): nn.Linear(a, b) for a, b in pairwise(sizes)}
    return sum(p.numel() for layer in layers.values() for p in layer.parameters())


_sizes_seen = {}


def layer_sizes_for__remembers_by_shape(features, labels):
    key = tuple(features.shape)
    if key not in _sizes_seen:
        _sizes_seen[key] = (features.shape[1], len(torch.unique(labels)))
    return _sizes_seen[key]
