"""The forward pass: running a model and reading its prediction (reference solution)."""

import torch
from torch import nn


def forward_pass(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def predict_class(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x).argmax(dim=1)
