import torch


def add(a, b):
    return (a + b).clone()


def multiply(a, b):
    a, b = torch.broadcast_tensors(a, b)
    return torch.stack([x * y for x, y in zip(a, b)])


def linear_forward(x, weight, bias):
    return torch.einsum("...i,oi->...o", x, weight) + bias
