import torch


def add(a, b):
    return torch.add(a, b)


def multiply(a, b):
    # get rid of the extra dimensions of size 1
    return torch.mul(a, b).squeeze()


def linear_forward(x, weight, bias):
    return torch.matmul(x, weight.t()) + bias
