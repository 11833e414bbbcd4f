"""Loss functions: how far a prediction is from its target.

A loss turns a whole batch of predictions into one number to minimise. For
regression, the mean squared error averages the squared differences; for
classification, the cross-entropy is the average negative log-probability the
model gives the correct class. Both return a 0-d tensor (a scalar tensor), not
a Python float, so that ``loss.backward()`` can follow it.
"""

import torch


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Return the mean squared error between ``pred`` and ``target``.

    ``pred`` and ``target`` have the same shape; the loss is the mean, over
    *every* element, of ``(pred - target) ** 2``.

    Contract: a 0-d tensor of ``pred``'s dtype, equal to
    ``torch.nn.functional.mse_loss(pred, target)``.

    >>> mse_loss(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 4.0]))
    tensor(2.)
    """
    raise NotImplementedError


def cross_entropy_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Return the mean cross-entropy of a batch of ``logits`` against integer ``labels``.

    ``logits`` has shape ``(batch, n_classes)``: raw scores, not probabilities.
    ``labels`` has shape ``(batch,)`` and holds class indices (int64). For each
    sample, the loss is ``-log(softmax(logits)[label])``; the result is the
    mean over the batch.

    Computing ``softmax`` with ``exp`` and then taking ``log`` overflows for
    large logits (``exp(1000)`` is ``inf``). Use ``torch.log_softmax``, or
    subtract each row's maximum before exponentiating (the log-sum-exp trick).

    Contract: a 0-d tensor equal to ``torch.nn.functional.cross_entropy(logits,
    labels)``, finite even when the logits are in the thousands.

    >>> cross_entropy_loss(torch.zeros(2, 4), torch.tensor([0, 3]))  # log(4)
    tensor(1.3863)
    """
    raise NotImplementedError
