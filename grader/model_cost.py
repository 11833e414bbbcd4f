"""What running a student's model in the grading process may cost, bounded before each layer runs.

A model a student returned is rebuilt here from standard layers (``grader.codec``)
and a structural check runs it on an input of its own (``assertions.run_module``).
Its layers and their sizes are the student's: 5,000 calls of one
``Linear(2048, 2048)`` cost seconds of the grading process's CPU, a ``Conv1d``
padded by a hundred million allocates gigabytes. So the run is bounded:
before it starts, by the layer calls it will make (a layer listed twice in a
``Sequential`` runs twice); while it runs, before each layer, by that layer's
output size and multiply-adds, worked out from its input's shape and its
settings. A layer that would pass a bound is not run: ``TooCostly`` says which.

A layer whose code stayed in the worker (``codec.RemoteForward``) runs there,
under the worker's limits; each call sends it the layer's parameters, which
count as its work here.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from grader import codec

#: Layer calls one run may make.
MAX_LAYER_CALLS = 1_000
#: Multiply-adds one run may take, all its layers together (about 0.1 s of one core in float32).
MAX_WORK = 64_000_000
#: Bytes any one layer's output may take.
MAX_OUTPUT_BYTES = 16 * 1024 * 1024

#: Layers whose output has their input's shape, one operation or so per element.
_SAME_SHAPE = (
    nn.Identity, nn.ReLU, nn.ReLU6, nn.SiLU, nn.Mish, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Sigmoid, nn.Tanh,
    nn.Hardtanh, nn.Softplus, nn.Softmax, nn.LogSoftmax, nn.Softmin, nn.Dropout, nn.BatchNorm1d, nn.BatchNorm2d,
    nn.LayerNorm,
)  # fmt: skip


class TooCostly(Exception):
    """A model would cost the grading process more than it may; ``str()`` says which bound, for a student."""


@contextlib.contextmanager
def bounded(module: nn.Module) -> Iterator[None]:
    """Run ``module`` inside this: ``TooCostly`` before it starts, or before the layer that would pass a bound."""
    calls = sum(1 for _ in _layer_calls(module))
    if calls > MAX_LAYER_CALLS:
        raise TooCostly(f"it makes more than {MAX_LAYER_CALLS:,} layer calls, the most a model run by a check may make")
    handle = nn.modules.module.register_module_forward_pre_hook(_Tally())
    try:
        yield
    finally:
        handle.remove()


def _layer_calls(module: nn.Module, depth: int = 0) -> Iterator[nn.Module]:
    """The layers ``module(x)`` calls, in order and with repeats; a ``Sequential`` calls each of its layers."""
    if type(module) is nn.Sequential and codec.remote_forward(module) is None and depth <= codec.MAX_DEPTH:
        for child in module._modules.values():
            if child is not None:
                yield from _layer_calls(child, depth + 1)
    else:
        yield module


class _Tally:
    """A forward pre-hook on every module: the work so far, and each layer's cost, checked before it runs."""

    def __init__(self) -> None:
        self.work = 0
        self.calls = 0

    def __call__(self, layer: nn.Module, args: tuple[Any, ...]) -> None:
        self.calls += 1
        if self.calls > MAX_LAYER_CALLS:
            raise TooCostly(f"it made more than {MAX_LAYER_CALLS:,} layer calls, the most a model run here may make")
        if codec.remote_forward(layer) is not None:
            self._spend(sum(t.numel() for _, t in codec.module_state(layer)))  # its state travels with each call
            return
        x = args[0] if args else None
        if layer._modules or not isinstance(x, torch.Tensor):
            return  # a container costs what its layers do; a layer called without a tensor raises
        step = _step(layer, tuple(x.shape))
        if step is None:
            return  # a shape the layer refuses: it raises before computing anything
        shape, per_output = step
        numel = math.prod(shape)
        itemsize = max([x.element_size(), *(p.element_size() for p in layer._parameters.values() if p is not None)])
        if numel * itemsize > MAX_OUTPUT_BYTES:
            raise TooCostly(
                f"its {type(layer).__name__} layer would output {numel * itemsize:,} bytes, "
                f"more than the {MAX_OUTPUT_BYTES:,} a layer run by a check may"
            )
        self._spend(numel * per_output)

    def _spend(self, work: int) -> None:
        self.work += work
        if self.work > MAX_WORK:
            raise TooCostly(
                f"it would take more than {MAX_WORK:,} multiply-adds, the most a model run by a check may take"
            )


def _step(layer: nn.Module, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int] | None:
    """The output shape of ``layer`` on an input of ``shape`` and its multiply-adds per output element.

    None if the layer would refuse that input (or takes two), so computes nothing.
    """
    if isinstance(layer, _SAME_SHAPE):
        return shape, 1
    if isinstance(layer, nn.Flatten):
        return (math.prod(shape),), 1  # its exact shape matters less than its size, which is the same
    if isinstance(layer, nn.Linear):
        if not shape or shape[-1] != layer.in_features:
            return None
        return (*shape[:-1], layer.out_features), layer.in_features
    if isinstance(layer, nn.Embedding):
        return (*shape, layer.embedding_dim), 1
    if isinstance(layer, (nn.Conv1d, nn.Conv2d)):
        return _conv_step(layer, shape)
    return None


def _conv_step(layer: nn.Conv1d | nn.Conv2d, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int] | None:
    dims = len(layer.kernel_size)
    if len(shape) not in (dims + 1, dims + 2) or shape[-dims - 1] != layer.in_channels:
        return None
    spatial = []
    for axis in range(dims):
        size, kernel = shape[len(shape) - dims + axis], layer.kernel_size[axis]
        dilation, stride = layer.dilation[axis], layer.stride[axis]
        if layer.padding == "same":
            spatial.append(size)
            continue
        pad = 0 if layer.padding == "valid" else int(layer.padding[axis])
        out = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
        if out <= 0:
            return None
        spatial.append(out)
    per_output = layer.in_channels // layer.groups * math.prod(layer.kernel_size)
    return (*shape[: -dims - 1], layer.out_channels, *spatial), per_output
