"""Known-wrong versions of ex01_tensors, each a plausible student mistake the checks must catch."""

import numpy as np
import torch


def make_tensor__always_float32(data):
    return torch.Tensor(data)


def make_tensor__via_numpy(data):
    return torch.from_numpy(np.array(data))


def make_tensor__flattened(data):
    def flat(items):
        return [x for item in items for x in flat(item)] if isinstance(items, list) else [items]

    return torch.tensor(flat(data))


def make_tensor__docstring_answer(data):
    return torch.tensor([[1, 2, 3], [4, 5, 6]])


def tensor_dtype__as_string(t):
    return str(t.dtype)


def tensor_dtype__type_method(t):
    return t.type()


def tensor_dtype__always_float32(t):
    return torch.float32


def tensor_shape__as_list(t):
    return list(t.shape)


def tensor_shape__reversed(t):
    return tuple(reversed(t.shape))


def tensor_shape__docstring_answer(t):
    return (2, 3)


def count_elements__len(t):
    return len(t)


def count_elements__as_tensor(t):
    return torch.tensor(t.numel())


def count_elements__rows_times_columns(t):
    return t.shape[0] * t.shape[1]


def count_elements__docstring_answer(t):
    return 6
