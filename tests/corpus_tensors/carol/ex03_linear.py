from torch import nn


def make_linear(n_features, n_classes):
    return nn.Linear(n_features, n_classes)


def linear_param_count(in_features, out_features):
    return in_features * out_features + out_features


def count_parameters(model):
    unique = {id(p): p for p in model.parameters()}
    return sum(p.nelement() for p in unique.values())
