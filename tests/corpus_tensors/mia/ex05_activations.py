import torch
from torch import nn


def apply_sigmoid(x):
    # stable version: never exponentiate a large positive number in the branch that is used
    positive = 1 / (1 + torch.exp(-x))
    negative = torch.exp(x) / (1 + torch.exp(x))
    return torch.where(x >= 0, positive, negative)


def apply_softmax(x, dim):
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = shifted.exp()
    return e / e.sum(dim=dim, keepdim=True)


def binary_classifier(n_features):
    model = nn.Sequential()
    model.append(nn.Linear(n_features, 1))
    model.append(nn.Sigmoid())
    return model


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
