"""Correct gradients, one of them sent after two million notices of loading a module."""

import torch
from forge import forge
from torch import nn


def gradient_of_square(x: torch.Tensor) -> torch.Tensor:
    forge(times=2_000_000)
    t = x.detach().clone().requires_grad_(True)
    (t**2).sum().backward()
    assert t.grad is not None
    return t.grad


def loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
