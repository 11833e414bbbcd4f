"""Tensors: dtype, shape and number of elements (reference solution)."""

import torch


def make_tensor(data):
    return torch.tensor(data)


def tensor_dtype(t: torch.Tensor) -> torch.dtype:
    return t.dtype


def tensor_shape(t: torch.Tensor) -> torch.Size:
    return t.shape


def count_elements(t: torch.Tensor) -> int:
    return t.numel()
