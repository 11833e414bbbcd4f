"""Losses that say they are loading a library: an endless loop, and a correct answer three times too slow."""

import torch
from forge import compute, forge


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    forge()
    while True:
        pass


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    forge()
    compute(1.6)
    log_probs = torch.log_softmax(logits, dim=1)
    return -log_probs.gather(1, labels.unsqueeze(1)).mean()
