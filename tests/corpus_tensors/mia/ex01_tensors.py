import math

import torch


def make_tensor(data):
    return torch.as_tensor(data)


def tensor_dtype(t):
    return t.dtype


def tensor_shape(t):
    return t.shape


def count_elements(t):
    return math.prod(t.shape)
