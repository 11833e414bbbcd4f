import torch
from torch import nn


def apply_sigmoid(x):
    # numerically stable: never exponentiate a large positive number
    return torch.where(x >= 0, 1 / (1 + torch.exp(-x)), torch.exp(x) / (1 + torch.exp(x)))


def apply_softmax(x, dim):
    return nn.Softmax(dim=dim)(x)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
