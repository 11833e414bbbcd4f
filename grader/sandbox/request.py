"""Requests to a worker: one pickle, with every plain CPU tensor as dtype, shape and raw bytes.

Requests go from the grader to a worker, a direction that may use any
encoding (the worker never sends pickles back). torch's own tensor pickling
goes through storages and costs several times more to load, in a worker
that runs ~80 calls per student.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from collections.abc import Callable
from typing import Any

import torch

from grader.codec import tensor_bytes, tensor_from_bytes


def _reduce_tensor(tensor: torch.Tensor) -> Any:
    """A plain CPU tensor as dtype, shape and raw bytes; anything else as torch pickles it."""
    if not _plain_cpu(tensor):
        return tensor.__reduce_ex__(pickle.HIGHEST_PROTOCOL)  # type: ignore[no-untyped-call]
    plain, raw = tensor_bytes(tensor)
    rebuild = _rebuild_parameter if type(tensor) is torch.nn.Parameter else _rebuild_tensor
    return rebuild, (raw, plain.dtype, tuple(plain.shape), tensor.requires_grad)


def _plain_cpu(tensor: torch.Tensor) -> bool:
    return (
        tensor.layout == torch.strided
        and tensor.device.type == "cpu"
        and not tensor.is_quantized
        and not tensor.is_meta
        and not tensor.is_nested
    )


#: By exact type, so the C pickler calls back into Python for tensors only
#: (a ``reducer_override`` would be called for every module and dict too).
#: Subclasses keep their own pickling.
_REDUCERS: dict[type, Callable[[Any], Any]] = {torch.Tensor: _reduce_tensor, torch.nn.Parameter: _reduce_tensor}


def _rebuild_tensor(raw: bytes, dtype: torch.dtype, shape: tuple[int, ...], requires_grad: bool) -> torch.Tensor:
    tensor = tensor_from_bytes(raw, dtype, shape)
    return tensor.requires_grad_(True) if requires_grad else tensor


def _rebuild_parameter(
    raw: bytes, dtype: torch.dtype, shape: tuple[int, ...], requires_grad: bool
) -> torch.nn.Parameter:
    return torch.nn.Parameter(_rebuild_tensor(raw, dtype, shape, False), requires_grad=requires_grad)


def pack_request(request: dict[str, Any]) -> bytes:
    """A request for a worker (trusted to untrusted: the worker loads it with ``pickle``)."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, **_REDUCERS}  # torch registers its dtypes' there
    pickler.dump(request)
    return buffer.getvalue()
