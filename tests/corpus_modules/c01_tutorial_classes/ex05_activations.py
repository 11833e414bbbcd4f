"""Logistic and softmax regression written as classes, the way most PyTorch courses teach them."""

from collections import OrderedDict

import torch
from torch import nn


def apply_sigmoid(x):
    # the sigmoid column of a (..., 2) stack: a strided view
    return torch.stack([x, torch.sigmoid(x)], dim=-1)[..., 1]


def apply_softmax(x, dim):
    return torch.softmax(x.transpose(dim, -1), dim=-1).transpose(dim, -1)


class LogisticRegression(nn.Sequential):
    def __init__(self, n_features):
        super().__init__(nn.Linear(n_features, 1), nn.Sigmoid())


def binary_classifier(n_features):
    return LogisticRegression(n_features)


class SoftmaxRegression(nn.Sequential):
    """Linear scores, then a softmax over the classes."""

    def __init__(self, n_features, n_classes):
        super().__init__(
            OrderedDict(
                [
                    ("scores", nn.Linear(n_features, n_classes)),
                    ("probabilities", nn.Softmax(dim=-1)),
                ]
            )
        )

    def extra_repr(self):
        return "softmax regression"


def multiclass_classifier(n_features, n_classes):
    return SoftmaxRegression(n_features, n_classes)
