"""binary_classifier returns 5,000 calls of one Linear(2048, 2048) for a check to run."""

import torch
from torch import nn


def binary_classifier(n_features):
    wide = nn.Linear(2048, 2048)
    return nn.Sequential(nn.Linear(n_features, 2048), *[wide] * 5000, nn.Linear(2048, 1), nn.Sigmoid())


def apply_sigmoid(x):
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    return torch.softmax(x, dim=dim)


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
