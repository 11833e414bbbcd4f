import torch
from torch import nn


def stack_layers(sizes):
    if len(sizes) < 2:
        raise ValueError("need at least an input and an output size")
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
    return nn.Sequential(*layers)


def stacked_param_count(sizes):
    total = 0
    for i in range(len(sizes) - 1):
        total += sizes[i] * sizes[i + 1] + sizes[i + 1]
    return total


def layer_sizes_for(features, labels):
    return features.size(1), len(torch.unique(labels))
