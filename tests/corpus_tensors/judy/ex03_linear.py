from torch import nn


def make_linear(n_features, n_classes):
    # 2 classes = binary problem, one output is enough
    if n_classes == 2:
        return nn.Linear(n_features, 1)
    return nn.Linear(n_features, n_classes)


def linear_param_count(in_features, out_features):
    return (in_features + 1) * out_features


def count_parameters(model):
    total = 0
    for p in model.parameters():
        total += p.numel()
    return total
