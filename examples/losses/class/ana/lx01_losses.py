"""Ana's losses: everything right."""

import torch


def mse_loss(pred, target):
    return torch.mean((pred - target) ** 2)


def cross_entropy_loss(logits, labels):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -log_probs[torch.arange(logits.shape[0]), labels].mean()
