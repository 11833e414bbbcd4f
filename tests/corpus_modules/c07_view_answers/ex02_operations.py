import torch


def add(a, b):
    total = a + b
    return total.movedim(0, -1).contiguous().movedim(-1, 0) if total.dim() else total


def multiply(a, b):
    return torch.mul(*torch.broadcast_tensors(a, b))


def linear_forward(x, weight, bias):
    if x.dim() == 2:
        return (weight @ x.mT).mT + bias
    return weight @ x + bias
