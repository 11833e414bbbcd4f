import torch


def add(a, b):
    a += b
    return a


def multiply(a, b):
    return torch.mul(a, b, out=a)


def linear_forward(x, weight, bias):
    return x @ weight.t_() + bias
