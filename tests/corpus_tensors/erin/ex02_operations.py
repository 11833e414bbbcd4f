import numpy as np
import torch


def add(a, b):
    return torch.from_numpy(np.add(a.detach().numpy(), b.detach().numpy()))


def multiply(a, b):
    return torch.tensor(a.detach().numpy() * b.detach().numpy())


def linear_forward(x, weight, bias):
    out = x.detach().numpy() @ weight.detach().numpy().T + bias.detach().numpy()
    return torch.from_numpy(out)
