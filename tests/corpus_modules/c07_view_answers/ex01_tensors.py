import torch


def make_tensor(data):
    t = torch.tensor(data)
    return t.mT.contiguous().mT if t.dim() >= 2 else t


def tensor_dtype(t):
    return t.dtype


def tensor_shape(t):
    return tuple(t.shape)


def count_elements(t):
    return t.numel()
