import torch


def make_tensor(data):
    return torch.tensor(data)


def tensor_dtype(t):
    return t.dtype


def tensor_shape(t):
    # walk down the nested lists
    shape = []
    x = t.tolist()
    while isinstance(x, list):
        shape.append(len(x))
        x = x[0]
    return tuple(shape)


def count_elements(t):
    return t.numel()
