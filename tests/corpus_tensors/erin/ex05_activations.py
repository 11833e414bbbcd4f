import numpy as np
import torch
from torch import nn


def apply_sigmoid(x):
    return torch.tensor(1 / (1 + np.exp(-x.detach().numpy())))


def apply_softmax(x, dim):
    v = x.detach().numpy()
    e = np.exp(v - v.max(axis=dim, keepdims=True))
    return torch.tensor(e / e.sum(axis=dim, keepdims=True))


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
