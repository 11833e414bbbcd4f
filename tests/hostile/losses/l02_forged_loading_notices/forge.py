"""Frames of the student's own on the worker's answer socket: notices that a module is loading."""

import os
import stat
import struct

LOADING = b"\xff\xffloading torch._dynamo"


def forge(payload: bytes = LOADING, times: int = 1) -> None:
    frame = struct.pack(">Q", len(payload)) + payload
    data = memoryview(frame * times)
    for fd in range(64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                while data:
                    data = data[os.write(fd, data) :]
        except OSError:
            pass


def compute(seconds: float) -> None:
    """``seconds`` of CPU time."""
    import time

    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
