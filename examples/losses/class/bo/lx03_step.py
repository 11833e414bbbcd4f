"""Bo's optimisation step: climbs the gradient instead of descending it."""

import torch


def sgd_step(model, x, y, lr):
    model.zero_grad()
    ((model(x) - y) ** 2).mean().backward()
    with torch.no_grad():
        for p in model.parameters():
            p += lr * p.grad
    return model
