"""Length-prefixed frames on a stream socket, shared by zygote, worker and grader."""

from __future__ import annotations

import contextlib
import gc
import json
import mmap
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_HEADER = struct.Struct(">Q")
#: How much a ``FrameReader`` receives at once.
_PIECE_BYTES = 256 * 1024
_META = struct.Struct(">I")


class ChannelClosed(Exception):
    """The other end closed the socket (or died) before a whole frame arrived."""


def framed(payload: bytes) -> bytes:
    """``payload`` with its length header, ready to send."""
    return frame_header(len(payload)) + payload


def frame_header(size: int) -> bytes:
    """The header of a frame of ``size`` bytes: sent before a payload too large to copy into ``framed``'s."""
    return _HEADER.pack(size)


def split_frames(data: bytes) -> Iterator[bytes]:
    """The payloads of frames ``framed`` made, one after another in ``data``; ``ValueError`` if one is cut short."""
    at = 0
    while at < len(data):
        if at + _HEADER.size > len(data):
            raise ValueError("a frame's header is cut short")
        (size,) = _HEADER.unpack_from(data, at)
        start, at = at + _HEADER.size, at + _HEADER.size + size
        if at > len(data):
            raise ValueError("a frame is cut short")
        yield data[start:at]


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(framed(payload))


_MIB = 1024 * 1024
#: The most bytes one answer of a worker may be: its facts and its value. The grading process
#: holds an answer's frame while it rebuilds its value, and a check may keep an earlier answer:
#: 16 MiB keeps one student's share of that process under 64 MiB (a model of 4 million
#: parameters, or a tensor of 4 million floats; the checks' inputs make answers of kilobytes).
MAX_ANSWER_BYTES = 16 * _MIB
#: The most bytes the answers to one submission's calls may be in all.
MAX_SUBMISSION_BYTES = 256 * _MIB
#: The most bytes an answer's facts (status, message, output ...) may be: JSON, parsed into Python objects.
MAX_FACTS_BYTES = _MIB
#: The most bytes the facts of one submission's answers may be in all: what bounds the time spent parsing them.
MAX_SUBMISSION_FACTS_BYTES = 8 * _MIB


def size_text(size: int) -> str:
    """A byte count as a student reads it, in the units of the other limits: ``120 MiB``, ``1.5 MiB``, ``900 bytes``."""
    return f"{size / _MIB:.3g} MiB" if size >= _MIB else f"{size:,} bytes"


class OverBound(Exception):
    """An answer is over one of the grader's bounds; ``str()`` goes after the function's name, for a student."""


class FrameTooLarge(OverBound, ValueError):
    """A frame announced more bytes than its reader accepts (refused before its body is read)."""


@dataclass
class AnswerBudget:
    """What the answers of one submission may still take, in bytes: frames in all, and their facts in all."""

    frame_bytes: int = MAX_SUBMISSION_BYTES
    facts_bytes: int = MAX_SUBMISSION_FACTS_BYTES


class FrameReader:
    """Splits a byte stream into frames, whatever pieces it arrives in.

    Reading a stream socket in large pieces takes one ``recv`` per frame
    where reading the header, then the body, takes two: every call of a
    student function is a request and an answer, ~80 per student. Bytes past
    the end of a frame wait for the next one.

    A frame's size is checked against ``max_bytes`` (and ``budget``, which it
    is then charged to) as soon as its header is in, before its body is read.
    A frame larger than the pieces is received straight into a buffer of its
    own size, which becomes the frame: one copy of its bytes, not three.
    """

    def __init__(self, *, max_bytes: int, budget: AnswerBudget | None = None) -> None:
        self.max_bytes = max_bytes
        self.budget = budget
        self._buffer = bytearray()
        # Received into, and reused: a fresh 1 MiB bytes object per recv would be
        # an mmap and a munmap each time. Anonymous memory, not a bytearray: the
        # kernel gives its pages zeroed as they are first written, where a
        # bytearray is zeroed whole at once (64 page faults in every worker and
        # for every worker in the grading process, most of them for pages
        # that never receive a byte).
        self._piece = mmap.mmap(-1, _PIECE_BYTES)
        #: The size of the frame whose header was read, until its body is all in.
        self._size: int | None = None
        self._large: bytearray | None = None
        self._filled = 0

    def receive(self, sock: socket.socket) -> None:
        """Read what ``sock`` has (blocking or not, as it is set); ``ChannelClosed`` at its end."""
        if self._large is not None and self._filled < len(self._large):
            count = sock.recv_into(memoryview(self._large)[self._filled :])
            if not count:
                raise ChannelClosed
            self._filled += count
            return
        count = sock.recv_into(self._piece)
        if not count:
            raise ChannelClosed
        self._buffer += memoryview(self._piece)[:count]

    def frame(self) -> bytes | bytearray | None:
        """The next whole frame, or None until more bytes arrive; ``FrameTooLarge`` before reading one."""
        if self._size is None:
            if len(self._buffer) < _HEADER.size:
                return None
            (size,) = _HEADER.unpack_from(self._buffer)
            self._admit(size)
            del self._buffer[: _HEADER.size]
            self._size = size
            if size > len(self._piece):
                self._large = bytearray(size)
                self._filled = min(len(self._buffer), size)
                self._large[: self._filled] = self._buffer[: self._filled]
                del self._buffer[: self._filled]
        size = self._size
        payload: bytes | bytearray
        if self._large is not None:
            if self._filled < size:
                return None
            payload, self._large = self._large, None
        else:
            if len(self._buffer) < size:
                return None
            payload = bytes(self._buffer[:size])
            del self._buffer[:size]
        self._size = None
        return payload

    def _admit(self, size: int) -> None:
        if size > self.max_bytes:
            limit = size_text(self.max_bytes)
            raise FrameTooLarge(f"returned {size_text(size)}, more than the {limit} an answer may be")
        budget = self.budget
        if budget is not None:
            if size > budget.frame_bytes:
                raise FrameTooLarge(
                    f"returned {size_text(size)} when the answers of this submission had only "
                    f"{size_text(max(budget.frame_bytes, 0))} left of the {size_text(MAX_SUBMISSION_BYTES)} "
                    "they may be in all"
                )
            budget.frame_bytes -= size


def recv_frame(sock: socket.socket, reader: FrameReader) -> bytes | bytearray:
    """Read one frame from a blocking socket; a frame announcing more than the reader's limit is refused unread."""
    while (frame := reader.frame()) is None:
        reader.receive(sock)
    return frame


#: A worker's exit code when its own serving loop fails: the student's code broke
#: the process it ran in (closed its descriptors, replaced builtins...).
WORKER_BROKEN_EXIT = 70

#: The most grading processes one request to the zygote starts: their channels travel in one
#: message, and the kernel passes at most 253 descriptors in one (``SCM_MAX_FD``).
MAX_ENGINES = 253


class BadAnswer(Exception):
    """A worker's answer frame is not an answer (a broken or hostile worker)."""


def pack_answer(meta: dict[str, Any], value: bytes = b"") -> bytes:
    """An answer: plain JSON facts (status, output, ...) and, for a returned value, its codec message.

    Only the value needs the codec's typed nodes; the facts around it travel as
    JSON, which both sides read with the C parser.
    """
    return b"".join((_facts(meta), value))


def _facts(meta: dict[str, Any]) -> bytes:
    """An answer's facts as JSON, after their length."""
    status, output = meta.get("status"), meta.get("output")
    if len(meta) == 2 and type(status) is str and type(output) is str and next(iter(meta)) == "status":
        if not output:
            # Most answers: a status and nothing printed. Made once per status (a few, all the worker's own).
            facts = _QUIET_FACTS.get(status)
            if facts is None:
                facts = _sized(f'{{"status": {_JSON_STRING(status)}, "output": ""}}'.encode())
                if len(_QUIET_FACTS) < _MAX_QUIET_FACTS:
                    _QUIET_FACTS[status] = facts
            return facts
        # The other common facts: the text ``_FACTS_JSON`` writes for them, without the JSON encoder's work.
        return _sized(f'{{"status": {_JSON_STRING(status)}, "output": {_JSON_STRING(output)}}}'.encode())
    return _sized(_FACTS_JSON.encode(meta).encode())


def _sized(text: bytes) -> bytes:
    return _META.pack(len(text)) + text


#: The facts of an answer with nothing printed, by status.
_QUIET_FACTS: dict[str, bytes] = {}
_MAX_QUIET_FACTS = 16


#: The facts' JSON exactly as ``json.dumps(meta, ensure_ascii=True, allow_nan=False)`` writes it, from one
#: encoder made once (``json.dumps`` makes one per call when given options).
_FACTS_JSON = json.JSONEncoder(ensure_ascii=True, allow_nan=False)
_JSON_STRING = json.encoder.encode_basestring_ascii


#: Parses an answer's facts (one decoder, made once).
_FACTS = json.JSONDecoder()
#: The facts of most answers (a call that returned, or met a stub, and printed nothing), by the text
#: ``pack_answer`` writes for them: such an answer gets a copy, without the parser's work (about 170 a student).
_COMMON_FACTS: dict[bytes, dict[str, str]] = {
    _facts(meta)[_META.size :]: meta
    for meta in ({"status": "ok", "output": ""}, {"status": "not_implemented", "output": ""}, {"status": "ok"})
}
_COMMON_SIZE = max(map(len, _COMMON_FACTS))
#: Facts longer than this are parsed with the cyclic collector paused (see ``collector_paused``).
_PAUSE_ABOVE = 4096


def unpack_answer(frame: bytes | bytearray, budget: AnswerBudget | None = None) -> tuple[dict[str, Any], memoryview]:
    """The facts and the (still encoded, not copied) value of an answer; ``BadAnswer`` if malformed.

    The facts are bounded before they are parsed: ``MAX_FACTS_BYTES`` each,
    and ``budget``'s share of them, which they are charged to (``OverBound``).
    """
    if len(frame) < _META.size:
        raise BadAnswer("answer too short")
    (size,) = _META.unpack_from(frame)
    if _META.size + size > len(frame):
        raise BadAnswer("answer length mismatch")
    if size > MAX_FACTS_BYTES:
        raise OverBound(
            f"sent back an answer whose facts (message, traceback, printed output) are {size_text(size)}, "
            f"more than the {size_text(MAX_FACTS_BYTES)} they may be"
        )
    if budget is not None:
        if size > budget.facts_bytes:
            raise OverBound(
                f"sent back more facts (messages, tracebacks, printed output) than the "
                f"{size_text(MAX_SUBMISSION_FACTS_BYTES)} the answers of one submission may have in all"
            )
        budget.facts_bytes -= size
    # ASCII: the worker writes its facts with ``ensure_ascii``; anything else is not an answer.
    view = memoryview(frame)
    facts = view[_META.size : _META.size + size]
    if size <= _COMMON_SIZE and (common := _COMMON_FACTS.get(bytes(facts))) is not None:
        return dict(common), view[_META.size + size :]
    try:
        if size > _PAUSE_ABOVE:
            with collector_paused():
                meta = _FACTS.decode(str(facts, "ascii"))
        else:  # a few dozen bytes, a handful of objects: pausing would cost more than the parse
            meta = _FACTS.decode(str(facts, "ascii"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise BadAnswer(f"bad answer: {exc}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("status"), str):
        raise BadAnswer("an answer has no status")
    return meta, view[_META.size + size :]


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a header is parsed and rebuilt.

    Parsing makes one container per node, none of them in a cycle, yet each
    batch of them triggers a collection that walks every object of the
    grading process: a megabyte of ``[[],[],...]`` costs 0.5 s with the
    collector running and 0.04 s without.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
