import torch


def make_tensor(data):
    return torch.tensor(data)


def tensor_dtype(t):
    return t.dtype


def tensor_shape(t):
    return tuple(t.size(i) for i in range(t.dim()))


def count_elements(t):
    return len(t.flatten())
