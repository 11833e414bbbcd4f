import numpy as np
from torch import nn


def stack_layers(sizes):
    if len(sizes) < 2:
        raise ValueError("sizes")
    return nn.Sequential(*[nn.Linear(a, b) for a, b in zip(sizes, sizes[1:])])


def stacked_param_count(sizes):
    return int(sum(a * b + b for a, b in zip(sizes, sizes[1:])))


def layer_sizes_for(features, labels):
    return features.numpy().shape[1], len(np.unique(labels.numpy()))
