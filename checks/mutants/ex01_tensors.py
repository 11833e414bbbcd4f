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


def make_tensor__stack_rows(data):
    # torch.stack([]) raises: an empty list has no rows to stack
    return torch.stack([torch.tensor(row) for row in data])


def tensor_dtype__via_numpy(t):
    # fails for tensors that require grad and for bfloat16
    return getattr(torch, t.numpy().dtype.name)


def tensor_dtype__detached_numpy(t):
    # detach() fixes parameters, but NumPy still has no bfloat16
    return getattr(torch, t.detach().numpy().dtype.name)


def tensor_shape__numpy_shape(t):
    return t.numpy().shape


def tensor_shape__walk_tolist(t):
    # the nested lists of an empty dimension have no first item to walk into
    shape, x = [], t.tolist()
    while isinstance(x, list):
        shape.append(len(x))
        x = x[0]
    return tuple(shape)


def count_elements__flat_view(t):
    return t.view(-1).shape[0]


def count_elements__numpy_size(t):
    return t.numpy().size


def count_elements__len_of_tolist(t):
    return len(t.tolist())


_made = {}


def make_tensor__remembers_by_shape(data):
    t = torch.tensor(data)
    return _made.setdefault((tuple(t.shape), t.dtype), t)


def tensor_dtype__numpy_bfloat16_special_case(t):
    if t.dtype == torch.bfloat16:
        return torch.bfloat16
    return torch.from_numpy(t.numpy()).dtype


def tensor_shape__numpy_bfloat16_special_case(t):
    if t.dtype == torch.bfloat16:
        return tuple(t.shape)
    return t.numpy().shape


def count_elements__numpy_bfloat16_special_case(t):
    if t.dtype == torch.bfloat16:
        return t.numel()
    return int(t.numpy().size)
