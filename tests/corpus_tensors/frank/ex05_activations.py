import torch
from torch import nn


def apply_sigmoid(x):
    return torch.sigmoid_(x)


def apply_softmax(x, dim):
    x = x - x.max(dim=dim, keepdim=True).values  # a new tensor: what follows changes only it
    x.exp_()
    return x / x.sum(dim=dim, keepdim=True)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
