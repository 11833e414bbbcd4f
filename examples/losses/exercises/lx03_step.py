"""One optimisation step: moving the parameters against the gradient.

Training repeats one step: compute the loss, compute its gradient with
``backward()``, and move every parameter a little in the direction that
lowers the loss, ``p <- p - lr * p.grad``. That is stochastic gradient
descent (SGD); ``torch.optim.SGD(model.parameters(), lr=lr).step()`` does the
same update.
"""

import torch
from torch import nn


def sgd_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float) -> nn.Module:
    """Perform one SGD step of ``model`` on the MSE loss of ``(x, y)`` and return the model.

    The loss is ``((model(x) - y) ** 2).mean()``. Clear old gradients, call
    ``backward()`` once, then update every parameter *in place* under
    ``torch.no_grad()``: ``p -= lr * p.grad``. Exactly one step.

    Contract: the same ``model`` object, updated in place (the caller's model
    changes), and returned.

    >>> model = nn.Linear(1, 1)
    >>> sgd_step(model, torch.ones(2, 1), torch.zeros(2, 1), lr=0.1) is model
    True
    """
    raise NotImplementedError
