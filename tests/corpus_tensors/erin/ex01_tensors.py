import numpy as np
import torch


def make_tensor(data):
    return torch.from_numpy(np.array(data))


def tensor_dtype(t):
    return t.dtype


def tensor_shape(t):
    return t.numpy().shape


def count_elements(t):
    return int(t.detach().numpy().size)
