import torch


def make_tensor(data):
    return torch.Tensor(data)


def tensor_shape(t):
    return list(t.shape)
