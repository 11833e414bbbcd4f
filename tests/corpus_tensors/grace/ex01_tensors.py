import torch


def make_tensor(data):
    # build the tensor row by row
    return torch.stack([torch.tensor(row) for row in data])


def tensor_dtype(t):
    return t.dtype


def tensor_shape(t):
    return t.shape


def count_elements(t):
    return t.view(-1).size(0)
