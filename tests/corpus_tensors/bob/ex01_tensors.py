import math

import torch


def make_tensor(data):
    return torch.tensor(data)


def tensor_dtype(t):
    return t.data.dtype


def tensor_shape(t):
    return tuple(t.shape)


def count_elements(t):
    return math.prod(t.shape)
