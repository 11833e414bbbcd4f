"""binary_classifier returns 5,000 calls of one Linear(256, 256) for a check to run.

Small enough to build and send within a call's budget on a loaded machine; the checks that would run
it in the grading process refuse by its count of layer calls (bench/hostile_answers.py measures the
wide version's cost). Nested, 100 calls of a block of 50: a value may name one layer 1,000 times at
most, as it may hold 1,000 layers."""

import torch
from torch import nn


def binary_classifier(n_features):
    block = nn.Sequential(*[nn.Linear(256, 256)] * 50)
    return nn.Sequential(nn.Linear(n_features, 256), *[block] * 100, nn.Linear(256, 1), nn.Sigmoid())


def apply_sigmoid(x):
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    return torch.softmax(x, dim=dim)


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
