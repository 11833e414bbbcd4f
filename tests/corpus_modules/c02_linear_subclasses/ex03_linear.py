from torch import nn


class ClassifierHead(nn.Linear):
    """A linear layer that prints itself as a head."""

    def extra_repr(self):
        return "head: " + super().extra_repr()


def make_linear(n_features, n_classes):
    return ClassifierHead(n_features, n_classes)


def linear_param_count(in_features, out_features):
    return in_features * out_features + out_features


def count_parameters(model):
    unique = {id(p): p for p in model.parameters()}
    return sum(p.numel() for p in unique.values())
