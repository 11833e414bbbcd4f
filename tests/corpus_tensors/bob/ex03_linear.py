import math

from torch import nn


def make_linear(n_features, n_classes):
    return nn.Linear(in_features=n_features, out_features=n_classes, bias=True)


def linear_param_count(in_features, out_features):
    return (in_features + 1) * out_features


def count_parameters(model):
    return sum(math.prod(p.shape) for p in model.parameters())
