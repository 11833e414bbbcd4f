"""Gradients with autograd: what backward() computes, and where it puts it.

A tensor created with ``requires_grad=True`` records every operation done to
it. Calling ``.backward()`` on a scalar computed from it fills ``.grad`` with
the derivative of that scalar with respect to the tensor. For a model, the
tensors that require grad are its parameters, so ``loss.backward()`` fills
``p.grad`` for every ``p`` in ``model.parameters()``.
"""

import torch
from torch import nn


def gradient_of_square(x: torch.Tensor) -> torch.Tensor:
    """Return the gradient of ``(x ** 2).sum()`` with respect to ``x``, computed by autograd.

    Do not differentiate by hand: make a tensor that requires grad, compute
    ``(t ** 2).sum()`` from it, call ``backward()``, and read ``t.grad``.

    Leave the caller's ``x`` alone: work on a copy,
    ``x.detach().clone().requires_grad_(True)``, so that ``x`` keeps its values
    and its ``requires_grad`` flag and never receives a ``.grad``.

    Contract: a tensor of ``x``'s shape and dtype, equal to ``2 * x``, that
    does not itself require grad.

    >>> gradient_of_square(torch.tensor([1.0, -3.0]))
    tensor([ 2., -6.])
    """
    raise NotImplementedError


def loss_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """Return the gradient of the MSE loss of ``model`` on ``(x, y)`` for each parameter.

    The loss is ``((model(x) - y) ** 2).mean()``. Start from no gradients
    (``model.zero_grad()``), call ``backward()`` on the loss once, then
    collect ``p.grad`` for every ``name, p`` in ``model.named_parameters()``.
    Do not change the parameters themselves.

    Contract: a dict mapping each parameter's name (``"weight"``, ``"bias"``,
    or ``"0.weight"`` ... for an ``nn.Sequential``) to a tensor of that
    parameter's shape.

    >>> sorted(loss_gradients(nn.Linear(3, 1), torch.zeros(4, 3), torch.zeros(4, 1)))
    ['bias', 'weight']
    """
    raise NotImplementedError
