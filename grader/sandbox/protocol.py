"""Length-prefixed frames on a stream socket, shared by zygote, worker and grader."""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

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
