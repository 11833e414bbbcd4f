import torch
import torch.nn.functional as F


def add(a, b):
    return a.add(b)


def multiply(a, b):
    return torch.mul(a, b)


def linear_forward(x, weight, bias):
    return F.linear(x, weight, bias)
