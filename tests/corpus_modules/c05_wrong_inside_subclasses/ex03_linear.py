from torch import nn


class Head(nn.Linear):
    def __init__(self, n_in, n_out):
        super().__init__(n_in, n_out, bias=False)


def make_linear(n_features, n_classes):
    return Head(n_features, n_classes)
