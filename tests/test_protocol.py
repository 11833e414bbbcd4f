"""Frames on a stream socket: whatever pieces the bytes arrive in, the same frames come out."""

from __future__ import annotations

import json
import resource
import socket
import struct
import threading
import types

import pytest

from grader.sandbox import protocol
from grader.sandbox.protocol import (
    MAX_SUBMISSION_FACTS_BYTES,
    AnswerBudget,
    BadAnswer,
    ChannelClosed,
    FrameReader,
    FrameTooLarge,
    OverBound,
    framed,
    pack_answer,
    recv_frame,
    unpack_answer,
)

FRAMES = [b"", b"a", b"hello" * 1000, bytes(range(256)) * 3]


@pytest.mark.parametrize("piece", [1, 3, 8, 9, 4096, 1 << 20])
def test_frames_survive_any_split(piece: int) -> None:
    stream = b"".join(framed(f) for f in FRAMES)
    left, right = socket.socketpair()
    with left, right:
        reader = FrameReader(max_bytes=1 << 20)
        got = []
        for start in range(0, len(stream), piece):
            left.sendall(stream[start : start + piece])
            reader.receive(right)
            while (frame := reader.frame()) is not None:
                got.append(frame)
    assert got == FRAMES


@pytest.mark.parametrize("piece", [4097, 100_000, 1 << 20])
def test_a_frame_larger_than_the_pieces_is_received_in_place(piece: int) -> None:
    frames = [b"before", bytes(range(251)) * 2400, b"after"]  # the middle one: 600 KB, over the 256 KiB pieces
    stream = b"".join(framed(f) for f in frames)
    left, right = socket.socketpair()
    with left, right:
        reader = FrameReader(max_bytes=1 << 20)
        got: list[bytes | bytearray] = []

        def send() -> None:  # in pieces, while the reader reads: more than the socket buffers hold
            for start in range(0, len(stream), piece):
                left.sendall(stream[start : start + piece])

        sender = threading.Thread(target=send)
        sender.start()
        while len(got) < len(frames):
            got.append(recv_frame(right, reader))
        sender.join()
    assert got == frames
    assert type(got[1]) is bytearray  # the buffer it was received into, not a copy


def test_several_frames_in_one_read_wait_their_turn() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(framed(b"first") + framed(b"second"))
        reader = FrameReader(max_bytes=100)
        assert recv_frame(right, reader) == b"first"
        left.close()  # the second frame is already here: no read needed
        assert recv_frame(right, reader) == b"second"
        with pytest.raises(ChannelClosed):
            recv_frame(right, reader)


def test_an_oversized_frame_is_refused_before_its_body_arrives() -> None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(framed(b"x" * 101)[:8])  # only the header
        with pytest.raises(FrameTooLarge):
            recv_frame(right, FrameReader(max_bytes=100))


def test_a_frame_cut_short_is_a_closed_channel() -> None:
    left, right = socket.socketpair()
    with right:
        left.sendall(framed(b"complete?")[:-1])
        left.close()
        with pytest.raises(ChannelClosed):
            recv_frame(right, FrameReader(max_bytes=100))


def test_a_frame_over_the_bound_names_it() -> None:
    reader = FrameReader(max_bytes=64 * 1024 * 1024)
    reader._buffer += struct.pack(">Q", 120 * 1024 * 1024)
    with pytest.raises(FrameTooLarge, match=r"^returned 120 MiB, more than the 64 MiB an answer may be$"):
        reader.frame()


def test_frames_are_charged_to_their_budget_when_their_header_arrives() -> None:
    budget = AnswerBudget(frame_bytes=1000)
    reader = FrameReader(max_bytes=600, budget=budget)
    reader._buffer += framed(b"x" * 500)[:8]  # the header alone
    assert reader.frame() is None
    assert budget.frame_bytes == 500
    reader._buffer += b"x" * 500 + struct.pack(">Q", 501)
    assert reader.frame() == b"x" * 500
    with pytest.raises(FrameTooLarge, match="had only 500 bytes left of the 256 MiB"):
        reader.frame()


def _answer(facts: bytes, value: bytes = b"") -> bytes:
    return struct.pack(">I", len(facts)) + facts + value


def test_facts_over_their_bound_are_refused_unparsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "_FACTS", types.SimpleNamespace(decode=lambda *a, **k: pytest.fail("parsed")))
    with pytest.raises(OverBound, match=r"facts .* are 2 MiB, more than the 1 MiB they may be"):
        unpack_answer(_answer(b" " * (2 * 1024 * 1024)))


def test_the_facts_of_a_submission_share_a_budget() -> None:
    facts = json.dumps({"status": "ok", "output": "x" * 1000}).encode()
    budget = AnswerBudget(facts_bytes=2 * len(facts))
    for _ in range(2):
        meta, value = unpack_answer(_answer(facts, b"VALUE"), budget)
        assert meta["output"] == "x" * 1000 and bytes(value) == b"VALUE"
    with pytest.raises(OverBound, match="than the 8 MiB the answers of one submission may have in all"):
        unpack_answer(_answer(facts), budget)


def test_the_common_facts_are_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most answers carry one of a few facts texts: each answer gets its own copy of their one parse."""
    common = [{"status": "ok", "output": ""}, {"status": "not_implemented", "output": ""}, {"status": "ok"}]
    texts = [json.dumps(meta, ensure_ascii=True, allow_nan=False).encode() for meta in common]
    monkeypatch.setattr(protocol, "_FACTS", types.SimpleNamespace(decode=lambda *a, **k: pytest.fail("parsed")))
    budget = AnswerBudget()
    for meta, text in zip(common, texts, strict=True):
        first, value = unpack_answer(_answer(text, b"VALUE"), budget)
        assert first == meta and bytes(value) == b"VALUE"
        first["digest"] = b"mine"  # each answer's dict is its own
        assert unpack_answer(bytearray(_answer(text)))[0] == meta
    assert budget.facts_bytes == MAX_SUBMISSION_FACTS_BYTES - sum(map(len, texts))  # charged all the same


def test_facts_that_are_not_an_answer() -> None:
    # The worker writes its facts as ASCII JSON: UTF-8, UTF-16 or a byte-order mark is no answer of its.
    odd = (
        '{"status": "ok", "output": "\u00e9"}'.encode(),
        '{"status": "ok"}'.encode("utf-16"),
        b'\xef\xbb\xbf{"status": "ok"}',
    )
    for frame in (b"", _answer(b"[]"), _answer(b'{"status": 1}'), _answer(b"{"), b"\0\0\0\x09{}", *map(_answer, odd)):
        with pytest.raises(BadAnswer):
            unpack_answer(frame)


def test_answers_facts_are_the_json_they_always_were() -> None:
    """The worker's shortcut for the common facts writes ``json.dumps``'s bytes: answers keep their digests."""
    facts = [
        {"status": "ok", "output": ""},
        {"status": "not_implemented", "output": 'printed \x1b[31m \u202e é \ud800 "q" \\ \n'},
        {"output": "", "status": "ok"},  # another order: its own text
        {"status": "ok"},
        {"status": "ok", "output": "x", "stopped": []},
        {
            "status": "raised",
            "type": "ValueError",
            "bases": ["ValueError"],
            "message": "m",
            "traceback": "",
            "output": "",
        },
        {"status": "unsupported", "message": "the value could not be read: boom"},
    ]
    facts += [{"status": "missing", "output": ""}, {"status": "ok", "output": ""}]  # the second: as made before
    for meta in facts:
        text = json.dumps(meta, ensure_ascii=True, allow_nan=False).encode()
        for value in (b"", b"value"):
            assert pack_answer(meta, value) == struct.pack(">I", len(text)) + text + value


def test_the_facts_of_an_answer_with_nothing_printed_are_made_once_per_status(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(protocol, "_QUIET_FACTS", {})
    quiet = {"status": "not_implemented", "output": ""}
    first = pack_answer(quiet)
    monkeypatch.setattr(protocol, "_JSON_STRING", None)  # not called again for the same facts
    assert pack_answer(quiet) == first
    assert pack_answer(quiet, b"v") == first + b"v"
    for status in map(str, range(100)):  # never more than a few kept, whatever the statuses
        monkeypatch.setattr(protocol, "_JSON_STRING", json.encoder.encode_basestring_ascii)
        pack_answer({"status": status, "output": ""})
    assert len(protocol._QUIET_FACTS) <= protocol._MAX_QUIET_FACTS


def test_a_reader_touches_only_the_memory_it_receives_into() -> None:
    """Its 256 KiB piece is not zeroed up front (64 page faults in every worker): pages come as bytes arrive."""

    def faults() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    before = faults()
    readers = [FrameReader(max_bytes=1 << 20) for _ in range(4)]
    assert faults() - before < 32  # a bytearray piece: more than 4 x 60
    left, right = socket.socketpair()
    with left, right:
        left.sendall(framed(b"x" * 10_000))
        assert recv_frame(right, readers[0]) == b"x" * 10_000
