"""The worker's serving loop, driven in this process with trusted functions only (no student code)."""

from __future__ import annotations

import builtins
import os
import socket
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch

from grader.codec import HandleRef
from grader.sandbox import cells, worker
from grader.sandbox.limits import Limits
from grader.sandbox.loading import NOTICE
from grader.sandbox.protocol import FrameReader, framed, recv_frame, unpack_answer
from grader.sandbox.request import pack_request


def _serve(tmp_path: Path, requests: list[dict[str, Any]], module: types.ModuleType) -> list[dict[str, Any]]:
    """The answers of a ``_Server`` to ``requests`` (calls of ``module``), ready message first."""
    ours, theirs = socket.socketpair()
    output = os.open(tmp_path / worker.OUTPUT_FILE, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        server = worker._Server(theirs, scratch=tmp_path, limits=Limits(), output_fd=output, layers=[])
        server.modules[module.__name__] = module
        ours.sendall(b"".join(framed(pack_request(r)) for r in requests))
        ours.shutdown(socket.SHUT_WR)
        server.serve()
        theirs.close()
        reader = FrameReader(max_bytes=1 << 20)
        answers = []
        while len(answers) < len(requests) + 1:
            frame = recv_frame(ours, reader)
            if not frame.startswith(NOTICE):  # a module this process had not loaded yet
                answers.append(unpack_answer(frame)[0])
        return answers
    finally:
        ours.close()
        os.close(output)


def test_arguments_are_walked_for_handles_only_when_the_request_may_hold_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(builtins, "__import__", builtins.__import__)  # serve() installs its meter
    walked: list[object] = []
    resolve = worker._Server._resolve

    def spy(value: Any) -> Any:
        walked.append(value)
        return resolve(value)

    monkeypatch.setattr(worker._Server, "_resolve", staticmethod(spy))
    module = types.ModuleType("trusted")
    module.count = lambda *args, **kwargs: len(args) + len(kwargs)  # type: ignore[attr-defined]
    plain = {"op": "call", "module": "trusted", "function": "count", "seed": 1}
    held = HandleRef(10**6, [("weight", torch.ones(1))], training=False)  # a handle this worker never made
    answers = _serve(
        tmp_path,
        [
            {**plain, "args": ([1, 2], (torch.ones(2),)), "kwargs": {"k": [3]}},
            {**plain, "args": ([held],), "kwargs": {}},
        ],
        module,
    )
    assert [a["status"] for a in answers] == ["ready", "ok", "raised"]
    # Only the second call's argument and what it holds: the first call's lists and tuple were not walked.
    assert [type(v) for v in walked] == [list, HandleRef]


def test_a_submissions_files_are_written_without_a_mkdir_each(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(builtins, "__import__", builtins.__import__)  # serve() installs its meter
    monkeypatch.setattr(sys, "path", list(sys.path))  # init puts the submission's folders first
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)
    monkeypatch.setattr(cells, "_scratch", [])
    made: list[str] = []
    mkdir = os.mkdir

    def spy(path: Any, *args: Any, **kwargs: Any) -> None:
        made.append(str(path))
        mkdir(path, *args, **kwargs)

    (tmp_path / worker.SOURCE_DIR).mkdir()  # as ``_prepare`` makes it
    monkeypatch.setattr(os, "mkdir", spy)
    files = {"a.py": b"A = 1\n", "b.py": b"B = 2\n", "pkg/c.py": b"C = 3\n", "../outside.py": b"no\n"}
    ours, theirs = socket.socketpair()
    output = os.open(tmp_path / worker.OUTPUT_FILE, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        server = worker._Server(theirs, scratch=tmp_path, limits=Limits(), output_fd=output, layers=[])
        ours.sendall(framed(pack_request({"op": "init", "files": list(files)})))
        ours.sendall(b"".join(framed(data) for data in files.values()))
        ours.shutdown(socket.SHUT_WR)
        server.serve()
    finally:
        ours.close()
        theirs.close()
        os.close(output)
    src = tmp_path / worker.SOURCE_DIR
    assert {str(p.relative_to(src)): p.read_bytes() for p in src.rglob("*.py")} == {
        name: data for name, data in files.items() if not name.startswith("..")
    }
    assert not (tmp_path / "outside.py").exists()
    assert made == [str((src / "pkg").resolve())]  # only the folder that was missing, not one per file
