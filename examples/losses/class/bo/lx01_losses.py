"""Bo's losses: MSE right, cross-entropy overflows for large logits."""

import torch


def mse_loss(pred, target):
    return ((pred - target) ** 2).mean()


def cross_entropy_loss(logits, labels):
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(probs[torch.arange(len(labels)), labels]).mean()
