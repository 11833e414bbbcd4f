"""Known-wrong versions of lx01_losses, each a plausible student mistake the checks must catch."""

import torch


def mse_loss__sum(pred, target):
    return ((pred - target) ** 2).sum()


def mse_loss__not_squared(pred, target):
    return (pred - target).abs().mean()


def mse_loss__rmse(pred, target):
    return ((pred - target) ** 2).mean().sqrt()


def mse_loss__unreduced(pred, target):
    return (pred - target) ** 2


def mse_loss__item(pred, target):
    return ((pred - target) ** 2).mean().item()


def mse_loss__float32(pred, target):
    return ((pred - target) ** 2).mean().float()


def cross_entropy_loss__naive_softmax(logits, labels):
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(probs[torch.arange(len(labels)), labels]).mean()


def cross_entropy_loss__sum(logits, labels):
    return -torch.log_softmax(logits, dim=1)[torch.arange(len(labels)), labels].sum()


def cross_entropy_loss__softmax_dim0(logits, labels):
    return -torch.log_softmax(logits, dim=0)[torch.arange(len(labels)), labels].mean()


def cross_entropy_loss__positive_sign(logits, labels):
    return torch.log_softmax(logits, dim=1)[torch.arange(len(labels)), labels].mean()
