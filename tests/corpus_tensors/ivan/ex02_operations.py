import torch


def add(a, b):
    return a + b


def multiply(a, b):
    a *= b
    return a


def linear_forward(x, weight, bias):
    x = x.view(-1, weight.shape[1])
    out = x @ weight.T + bias
    return out.squeeze(0) if out.shape[0] == 1 else out
