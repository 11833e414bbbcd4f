import numpy as np
import torch


def make_tensor(data):
    return torch.tensor(data)


def tensor_dtype(t):
    # numpy can't do bfloat16 so handle it separately
    if t.dtype == torch.bfloat16:
        return torch.bfloat16
    arr = t.numpy()
    return torch.from_numpy(arr).dtype


def tensor_shape(t):
    return tuple(t.size())


def count_elements(t):
    return int(np.prod(t.shape))
