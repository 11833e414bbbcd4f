import torch
from torch import nn


def apply_sigmoid(x):
    return 1 / (1 + torch.exp(-x))


def apply_softmax(x, dim):
    return torch.nn.functional.softmax(x, dim=dim)


def binary_classifier(n_features):
    torch.manual_seed(0)  # reproducible initial weights
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
