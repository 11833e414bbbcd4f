"""Length-prefixed frames on a stream socket, shared by zygote, worker and grader."""

from __future__ import annotations

import socket
import struct

_HEADER = struct.Struct(">Q")


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
