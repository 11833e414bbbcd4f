"""Models whose classes are built like the contract's, with forwards that lie."""
import torch
from torch import nn


def apply_sigmoid(x):
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    return torch.softmax(x, dim)


class LogisticRegression(nn.Sequential):
    """The right layers; forward answers 0.5, a probability, whatever the input."""

    def __init__(self, n_features):
        super().__init__(nn.Linear(n_features, 1), nn.Sigmoid())

    def forward(self, x):
        return torch.full((x.shape[0], 1), 0.5)


def binary_classifier(n_features):
    return LogisticRegression(n_features)


class Sequential(nn.Sequential):
    """Hides behind the allowlisted name: rows of uniform probabilities, which do sum to 1."""

    def forward(self, x):
        n = self[0].out_features
        return torch.full((*x.shape[:-1], n), 1.0 / n)


def multiclass_classifier(n_features, n_classes):
    return Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
