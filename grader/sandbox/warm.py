"""What the zygote runs once so that its workers start with torch's and the codec's lazy state made.

torch builds much of its state on first use (an operator's dispatch entry, a
kernel's choice for a dtype, ``nn.Module``'s first attribute paths), and
Python 3.11 specialises a function's bytecode as it first runs it, writing
into the code object. In a forked worker, each first use costs again, and
its writes copy the zygote's pages. Done once in the zygote, before it
forks, every worker inherits it.

What runs here is plain torch and the codec, on values made here: no answer
key (the zygote never holds one) and no student code. It leaves nothing a
worker could tell apart from before:

- the random generators (torch's, Python's, numpy's) are put back as they
  were, so a submission that draws random numbers when imported draws the
  same ones;
- grad mode is changed only inside ``torch.no_grad``, and nothing global
  is set;
- no thread is started: the zygote runs with one intra-op and one inter-op
  thread (``tests/test_warm.py`` counts them, in a real zygote once it
  has forked a worker).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from grader import codec

__all__ = ["warm"]

#: The dtypes checks hand students, and those their results come back in.
_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.int32, torch.bool)


@contextlib.contextmanager
def _random_state_kept() -> Iterator[None]:
    """Put every random generator a student can draw from back as it was."""
    generator = torch.default_generator.get_state()
    python = random.getstate()
    legacy = np.random.get_state()
    try:
        yield
    finally:
        torch.default_generator.set_state(generator)
        random.setstate(python)
        np.random.set_state(legacy)


def warm() -> None:
    """Use, once, what a worker's calls use: tensors of each dtype, the usual operators, layers and the codec."""
    with _random_state_kept():
        _operators()
        _layers()
        _codec()


def _operators() -> None:
    data = [[1.0, -2.0, 3.5], [0.5, 4.0, -1.0]]
    for made in (torch.tensor(data), torch.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([True, False])):
        _ = made.dtype, made.shape, made.numel(), made.size(0), made.dim(), made.tolist()
    for dtype in _DTYPES:
        x = torch.tensor(data).to(dtype)
        y = x.clone()
        _ = x + y, x * y, x == y, torch.equal(x, y), x.sum(), x.T.contiguous(), x.view(-1), x.reshape(3, 2)
        if dtype.is_floating_point:
            _ = x - y, x / 2, x.float(), x.double(), torch.isfinite(x).all(), torch.isclose(x, y).all(), x.abs()
            _ = torch.sigmoid(x), torch.softmax(x, dim=-1), torch.exp(x - x.max(dim=1, keepdim=True).values)
            _ = x.exp().sum(dim=1, keepdim=True), torch.relu(x), torch.tanh(x), x.mean(), torch.allclose(x, y)
            _ = x @ y.T, torch.matmul(x, y.T), x.max()
            grad = x.detach().clone().requires_grad_()
            _ = torch.sigmoid(grad) * 2, (grad @ grad.T).sum()
    expanded = torch.randn(1, 3).expand(4, 3)
    _ = expanded + 1, expanded.contiguous(), torch.stack([expanded[0], expanded[1]]), torch.cat([expanded, expanded])
    labels = torch.tensor([0, 2, 1, 2])
    _ = torch.unique(labels).numel(), torch.argmax(expanded, dim=1), torch.zeros(2, 3), torch.ones(3), torch.arange(4)
    _ = torch.randint(2, 7, ()), torch.rand(2, 3), torch.randperm(5), torch.full((2,), 1.5), torch.empty(0)


def _layers() -> None:
    x = torch.randn(4, 9)
    model = nn.Sequential(nn.Linear(9, 4), nn.ReLU(), nn.Linear(4, 3), nn.Sigmoid(), nn.Softmax(dim=-1))
    with torch.no_grad():
        _ = model(x), model[0](x), sum(p.numel() for p in model.parameters())
    _ = model(x).sum()
    _ = nn.Linear(9, 1, bias=False)(x), nn.Tanh()(x), nn.Flatten()(x), nn.Identity()(x)
    _ = list(model.named_parameters()), model.state_dict(), model.eval(), model.train()


def _codec() -> None:
    values = [
        torch.tensor([[1.0, 2.0]]),
        torch.tensor([1, 2]),
        torch.tensor([True]),
        torch.randn(3, 2).T,
        torch.randn(2, 2, dtype=torch.float64).requires_grad_(),
        torch.Size([2, 3]),
        torch.float32,
        (3, 4.5, "x", None, [1, 2], {"k": 1}),
        nn.Linear(9, 4),
        nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1), nn.Sigmoid()),
    ]
    for value in values:
        codec.encode(value)
