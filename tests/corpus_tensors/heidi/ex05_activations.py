import torch
from torch import nn


def apply_sigmoid(x):
    return torch.sigmoid(x.float())


def apply_softmax(x, dim):
    return torch.softmax(x.double(), dim=dim).to(x.dtype)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
