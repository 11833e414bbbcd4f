from collections import OrderedDict

import torch
from torch import nn


def stack_layers(sizes):
    if len(sizes) < 2:
        raise ValueError("sizes must have at least two entries")
    layers = OrderedDict()
    for i in range(len(sizes) - 1):
        layers[f"linear_{sizes[i]}_{sizes[i + 1]}"] = nn.Linear(sizes[i], sizes[i + 1])
    return nn.Sequential(layers)


def stacked_param_count(sizes):
    model = stack_layers(sizes)
    return sum(p.numel() for p in model.parameters())


def layer_sizes_for(features, labels):
    return features.shape[1], len(torch.unique(labels))
