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


def framed(payload: bytes) -> bytes:
    """``payload`` with its length header, ready to send."""
    return _HEADER.pack(len(payload)) + payload


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(framed(payload))


class FrameTooLarge(ValueError):
    """A frame announced more bytes than its reader accepts."""


class FrameReader:
    """Splits a byte stream into frames, whatever pieces it arrives in.

    Reading a stream socket in large pieces takes one ``recv`` per frame
    where reading the header, then the body, takes two: every call of a
    student function is a request and an answer, ~80 per student. Bytes past
    the end of a frame wait for the next one.
    """

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        # Received into, and reused: a fresh 1 MiB bytes object per recv would be
        # an mmap and a munmap each time.
        self._piece = bytearray(256 * 1024)

    def receive(self, sock: socket.socket) -> None:
        """Read what ``sock`` has (blocking or not, as it is set); ``ChannelClosed`` at its end."""
        count = sock.recv_into(self._piece)
        if not count:
            raise ChannelClosed
        self._buffer += memoryview(self._piece)[:count]

    def frame(self) -> bytes | None:
        """The next whole frame, or None until more bytes arrive; ``FrameTooLarge`` before reading one."""
        if len(self._buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self._buffer)
        if size > self.max_bytes:
            raise FrameTooLarge(f"frame of {size} bytes exceeds the {self.max_bytes}-byte limit")
        end = _HEADER.size + size
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[_HEADER.size : end])
        del self._buffer[:end]
        return payload


def recv_frame(sock: socket.socket, reader: FrameReader) -> bytes:
    """Read one frame from a blocking socket; a frame announcing more than the reader's limit is refused unread."""
    while (frame := reader.frame()) is None:
        reader.receive(sock)
    return frame


#: A worker's exit code when its own serving loop fails: the student's code broke
#: the process it ran in (closed its descriptors, replaced builtins...).
WORKER_BROKEN_EXIT = 70


class BadAnswer(Exception):
    """A worker's answer frame is not an answer (a broken or hostile worker)."""


#: Frames a worker sends while a call loads a module that was not loaded yet (torch's first
#: optimizer imports torch._dynamo: a second of CPU). The grader stops the call's own-time
#: budget between them, so loading libraries is not counted as the student's time; the
#: teacher's ``timeout_s`` still bounds the whole call. No answer can equal them: an answer
#: starts with the length of its facts, and 0xFF... is far longer than either frame.
IMPORT_STARTED = b"\xff\xffimport+"
IMPORT_FINISHED = b"\xff\xffimport-"


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
