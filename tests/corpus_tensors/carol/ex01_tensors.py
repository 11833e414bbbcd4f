import torch


def make_tensor(data):
    t = torch.tensor(data)
    return t.clone()


def tensor_dtype(t):
    return getattr(torch, str(t.dtype).split(".")[-1])


def tensor_shape(t):
    return torch.Size(t.shape)


def count_elements(t):
    # the product of the dimensions; an empty product (a 0-d tensor) is 1
    return int(torch.tensor(t.shape).prod())
