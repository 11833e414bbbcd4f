"""Length-prefixed frames on a stream socket, shared by zygote, worker and grader."""

from __future__ import annotations

import io
import json
import pickle
import socket
import struct
from typing import Any

import torch

_HEADER = struct.Struct(">Q")
_META = struct.Struct(">I")


class ChannelClosed(Exception):
    """The other end closed the socket (or died) before a whole frame arrived."""


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            raise ChannelClosed
        chunks += chunk
    return bytes(chunks)


def recv_frame(sock: socket.socket, *, max_bytes: int) -> bytes:
    """Read one frame; a frame announcing more than ``max_bytes`` is refused unread."""
    (size,) = _HEADER.unpack(recv_exact(sock, _HEADER.size))
    if size > max_bytes:
        raise ValueError(f"frame of {size} bytes exceeds the {max_bytes}-byte limit")
    return recv_exact(sock, size)


#: A worker's exit code when its own serving loop fails: the student's code broke
#: the process it ran in (closed its descriptors, replaced builtins...).
WORKER_BROKEN_EXIT = 70


class BadAnswer(Exception):
    """A worker's answer frame is not an answer (a broken or hostile worker)."""


def pack_answer(meta: dict[str, Any], value: bytes = b"") -> bytes:
    """An answer: plain JSON facts (status, output, ...) and, for a returned value, its codec message.

    Only the value needs the codec's typed nodes; the facts around it travel as
    JSON, which both sides read with the C parser.
    """
    text = json.dumps(meta, ensure_ascii=True, allow_nan=False).encode()
    return _META.pack(len(text)) + text + value


def unpack_answer(frame: bytes) -> tuple[dict[str, Any], bytes]:
    """The facts and the (still encoded) value of an answer; ``BadAnswer`` if malformed."""
    if len(frame) < _META.size:
        raise BadAnswer("answer too short")
    (size,) = _META.unpack_from(frame)
    if _META.size + size > len(frame):
        raise BadAnswer("answer length mismatch")
    try:
        meta = json.loads(frame[_META.size : _META.size + size])
    except (ValueError, RecursionError) as exc:
        raise BadAnswer(f"bad answer: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("status"), str):
        raise BadAnswer("an answer has no status")
    return meta, frame[_META.size + size :]


# --------------------------------------------------------------------------- requests


class _RequestPickler(pickle.Pickler):
    """Pickles a request with every plain CPU tensor as dtype, shape and raw bytes.

    Requests go from the grader to a worker, a direction that may use any
    encoding (the worker never sends pickles back). torch's own tensor pickling
    goes through storages and costs several times more to load, in a worker
    that runs ~80 calls per student.
    """

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if (kind is torch.Tensor or kind is torch.nn.Parameter) and _plain_cpu(obj):
            plain = obj.detach().resolve_conj().resolve_neg().contiguous()
            raw = plain.reshape(-1).view(torch.uint8).numpy().tobytes() if plain.numel() else b""
            rebuild = _rebuild_parameter if kind is torch.nn.Parameter else _rebuild_tensor
            return rebuild, (raw, plain.dtype, tuple(plain.shape), bool(obj.requires_grad))
        return NotImplemented


def _plain_cpu(tensor: torch.Tensor) -> bool:
    return (
        tensor.layout == torch.strided
        and tensor.device.type == "cpu"
        and not tensor.is_quantized
        and not tensor.is_meta
        and not tensor.is_nested
    )


def _rebuild_tensor(raw: bytes, dtype: torch.dtype, shape: tuple[int, ...], requires_grad: bool) -> torch.Tensor:
    if not raw:
        return torch.empty(shape, dtype=dtype, requires_grad=requires_grad)
    tensor = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)
    return tensor.requires_grad_(True) if requires_grad else tensor


def _rebuild_parameter(
    raw: bytes, dtype: torch.dtype, shape: tuple[int, ...], requires_grad: bool
) -> torch.nn.Parameter:
    return torch.nn.Parameter(_rebuild_tensor(raw, dtype, shape, False), requires_grad=requires_grad)


def pack_request(request: dict[str, Any]) -> bytes:
    """A request for a worker (trusted to untrusted: the worker loads it with ``pickle``)."""
    buffer = io.BytesIO()
    _RequestPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(request)
    return buffer.getvalue()
