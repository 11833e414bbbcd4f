"""Standard classes exactly, changed on the object: a forward hook, a replaced forward, a lying parameter."""
import torch
from torch import nn


def apply_sigmoid(x):
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    return torch.softmax(x, dim)


def binary_classifier(n_features):
    model = nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())
    model.register_forward_hook(lambda module, args, out: torch.full_like(out, 0.5))
    return model


def multiclass_classifier(n_features, n_classes):
    model = nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
    model.forward = lambda x: torch.full((*x.shape[:-1], n_classes), 1.0 / n_classes)
    return model
