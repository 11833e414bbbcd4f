"""Activations: sigmoid, softmax and simple classifiers (reference solution)."""

import torch
from torch import nn


def apply_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


def apply_softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.softmax(x, dim=dim)


def binary_classifier(n_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features: int, n_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
