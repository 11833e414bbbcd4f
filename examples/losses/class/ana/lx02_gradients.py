"""Ana's gradients: everything right."""

import torch


def gradient_of_square(x):
    t = x.detach().clone().requires_grad_(True)
    (t**2).sum().backward()
    return t.grad


def loss_gradients(model, x, y):
    model.zero_grad()
    torch.nn.functional.mse_loss(model(x), y).backward()
    return {name: p.grad for name, p in model.named_parameters()}
