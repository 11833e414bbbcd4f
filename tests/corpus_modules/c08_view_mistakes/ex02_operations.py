import torch


def add(a, b):
    return torch.add(a, b).T


def linear_forward(x, weight, bias):
    return torch.addmm(bias, x, weight.t())
