import torch


def add(a, b):
    return a.__add__(b)


def multiply(a, b):
    return torch.multiply(a, b)


def linear_forward(x, weight, bias):
    out = torch.matmul(x, weight.t())
    out += bias  # out is a new tensor: adding in place changes nothing of the caller's
    return out
