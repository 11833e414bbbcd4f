"""Frames on a stream socket: whatever pieces the bytes arrive in, the same frames come out."""

from __future__ import annotations

import socket

import pytest

from grader.sandbox.protocol import ChannelClosed, FrameReader, FrameTooLarge, framed, recv_frame

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
