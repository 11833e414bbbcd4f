import torch
import torch.nn.functional as F
from torch import nn


def apply_sigmoid(x):
    return torch.special.expit(x)


def apply_softmax(x, dim):
    return F.softmax(x, dim=dim)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
