"""Known-wrong versions of ex02_operations, each a plausible student mistake the checks must catch."""

import numpy as np
import torch


def add__in_place(a, b):
    return a.add_(b)


def add__expand_to_first(a, b):
    return a + b.expand_as(a)


def add__as_float(a, b):
    return a.float() + b.float()


def add__docstring_answer(a, b):
    return torch.tensor([[11.0, 21.0], [12.0, 22.0]])


def multiply__matmul(a, b):
    return a @ b


def multiply__dot_product(a, b):
    return (a * b).sum()


def multiply__docstring_answer(a, b):
    return torch.tensor([2.0, 4.0, 6.0])


def linear_forward__no_transpose(x, weight, bias):
    return x @ weight + bias


def linear_forward__no_bias(x, weight, bias):
    return x @ weight.T


def linear_forward__weight_first(x, weight, bias):
    return weight @ x + bias


def linear_forward__addmm(x, weight, bias):
    return torch.addmm(bias, x, weight.T)


def linear_forward__docstring_answer(x, weight, bias):
    return torch.tensor([3.5, 8.5, 7.5])


def add__plus_equals(a, b):
    # right values, but the caller's a is changed too
    a += b
    return a


def add__via_numpy(a, b):
    # fails for tensors that require grad and for bfloat16
    return torch.from_numpy(a.numpy() + b.numpy())


def multiply__in_place(a, b):
    return a.mul_(b)


def multiply__via_numpy(a, b):
    return torch.from_numpy(np.multiply(a.numpy(), b.numpy()))


def multiply__loop_over_rows(a, b):
    # iterating over a 0-d or empty tensor fails
    a, b = torch.broadcast_tensors(a, b)
    return torch.stack([x * y for x, y in zip(a, b, strict=True)])


def linear_forward__transposes_in_place(x, weight, bias):
    # t_() transposes the caller's weight too
    return x @ weight.t_() + bias


def linear_forward__via_numpy(x, weight, bias):
    return torch.from_numpy(x.numpy() @ weight.numpy().T + bias.numpy())


def add__squeezes(a, b):
    return (a + b).squeeze()


def multiply__squeezes(a, b):
    return (a * b).squeeze()


_sums = {}


def add__remembers_by_shape(a, b):
    key = (a.shape, b.shape, a.dtype, b.dtype)
    if key not in _sums:
        _sums[key] = a + b
    return _sums[key]


_products = {}


def multiply__refills_one_tensor(a, b):
    result = a * b
    buffer = _products.setdefault((result.shape, result.dtype), torch.empty(result.shape, dtype=result.dtype))
    buffer.copy_(result.detach())
    return buffer


_outputs = {}


def linear_forward__remembers_by_shape(x, weight, bias):
    key = (x.shape, weight.shape, x.dtype)
    if key not in _outputs:
        _outputs[key] = x @ weight.T + bias
    return _outputs[key]
