import torch


def add(a, b):
    a, b = torch.broadcast_tensors(a, b)
    return torch.stack([a, b]).sum(dim=0)


def multiply(a, b):
    return a * b


def linear_forward(x, weight, bias):
    if x.dim() == 1:
        return weight @ x + bias
    return torch.addmm(bias, x, weight.t())
