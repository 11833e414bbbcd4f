"""Operations: addition, multiplication and the linear layer.

Arithmetic operators on tensors work element by element and *broadcast*:
dimensions of size 1 (or missing leading dimensions) are stretched to match
the other operand, so a ``(3, 1)`` tensor plus a ``(1, 4)`` tensor gives
``(3, 4)``. The matrix product is a different operation, written ``@``.
"""

import torch


def add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return the element-wise sum of ``a`` and ``b``.

    Contract: the result equals ``a + b``, broadcasting as ``torch`` does
    (shape, dtype and values).

    >>> add(torch.tensor([[1.0], [2.0]]), torch.tensor([10.0, 20.0]))
    tensor([[11., 21.],
            [12., 22.]])
    """
    raise NotImplementedError


def multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return the element-wise product of ``a`` and ``b``.

    ``a * b`` multiplies matching entries; ``a @ b`` is the matrix product,
    which is *not* what is asked here. Contract: the element-wise product,
    broadcasting as ``torch`` does.

    >>> multiply(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0]))
    tensor([2., 4., 6.])
    """
    raise NotImplementedError


def linear_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Compute what a linear layer computes: ``x`` times the transposed weight, plus the bias.

    ``weight`` has shape ``(out, in)`` (one row per output), ``bias`` shape
    ``(out,)``, and ``x`` is one sample ``(in,)`` or a batch ``(batch, in)``.
    Each output is the dot product of the input with one row of ``weight``,
    plus that output's bias, so the layer computes ``x @ weight.T + bias``.

    Contract: the result equals ``torch.nn.functional.linear(x, weight, bias)``
    within float tolerance, with shape ``(out,)`` or ``(batch, out)``.

    >>> w = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> linear_forward(torch.tensor([3.0, 4.0]), w, torch.tensor([0.5, 0.5, 0.5]))
    tensor([3.5000, 8.5000, 7.5000])
    """
    raise NotImplementedError
