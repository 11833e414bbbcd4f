"""Tensors: dtype, shape and number of elements.

A tensor is an n-dimensional array of numbers that all share one type, its
*dtype*. Its *shape* says how many entries it has along each dimension, and
the product of the shape is its number of elements.
"""

import torch


def make_tensor(data):
    """Build a tensor from a (nested) Python list of numbers.

    ``torch.tensor`` infers the dtype from the data: a list of ints gives
    ``torch.int64``, a list of floats (or of ints and floats mixed) gives
    ``torch.float32``, a list of bools gives ``torch.bool``. Nested lists
    become extra dimensions. Beware ``torch.Tensor(data)`` (capital T): it
    always makes ``float32``.

    Contract: return a tensor with the same values, shape **and dtype** as
    ``torch.tensor(data)``.

    >>> make_tensor([[1, 2, 3], [4, 5, 6]])
    tensor([[1, 2, 3],
            [4, 5, 6]])
    >>> make_tensor([0.5, 1.5]).dtype
    torch.float32
    """
    raise NotImplementedError


def tensor_dtype(t: torch.Tensor) -> torch.dtype:
    """Return the dtype of tensor ``t``.

    Every tensor knows its element type as ``t.dtype``. Contract: return that
    ``torch.dtype`` object itself (such as ``torch.float32``), not a string
    like ``"torch.float32"`` or ``"torch.FloatTensor"``.

    >>> tensor_dtype(torch.tensor([1, 2]))
    torch.int64
    """
    raise NotImplementedError


def tensor_shape(t: torch.Tensor) -> tuple[int, ...]:
    """Return the shape of ``t``.

    The shape lists the size of every dimension: ``()`` for a single number
    (a 0-d tensor), ``(5,)`` for a vector, ``(2, 3)`` for a 2x3 matrix.
    Contract: return it as a ``torch.Size`` or a tuple of ints, not a list.

    >>> tensor_shape(torch.zeros(2, 3))
    torch.Size([2, 3])
    """
    raise NotImplementedError


def count_elements(t: torch.Tensor) -> int:
    """Return the total number of elements of ``t``, whatever its rank.

    That is the product of its shape: a ``(2, 3, 4)`` tensor has 24 elements
    (``len(t)`` would only give the size of the first dimension, 2).
    Contract: return a Python ``int`` (not a tensor), for tensors of any rank,
    including a 0-d tensor (1 element).

    >>> count_elements(torch.zeros(2, 3))
    6
    """
    raise NotImplementedError
