"""Subclasses that add no forward, but change what nn.Sequential's own forward sees."""
import torch
from torch import nn


def apply_sigmoid(x):
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    return torch.softmax(x, dim)


class Skipping(nn.Sequential):
    """nn.Sequential.forward iterates self: this iteration skips the Sigmoid."""

    def __iter__(self):
        return iter([self[0]])


def binary_classifier(n_features):
    return Skipping(nn.Linear(n_features, 1), nn.Sigmoid())


class _Lookup:
    """After nn.Module in the MRO, yet ahead of object: every attribute read passes here."""

    def __getattribute__(self, name):
        if name == "forward":
            return lambda x: torch.full((*x.shape[:-1], 3), 1.0 / 3)
        return object.__getattribute__(self, name)


class Sneaky(nn.Sequential, _Lookup):
    pass


def multiclass_classifier(n_features, n_classes):
    return Sneaky(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
