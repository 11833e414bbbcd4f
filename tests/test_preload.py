"""Planned requests loaded once in the zygote (``request.Preloaded``): the same objects, each handed out once."""

from __future__ import annotations

import dataclasses
import os
import socket
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from test_request import _same
from torch import nn

from grader.assignment import Assignment
from grader.grading import Grader
from grader.models import Report
from grader.sandbox import request as request_module
from grader.sandbox import worker
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.loading import NOTICE
from grader.sandbox.protocol import FrameReader, framed, recv_frame, unpack_answer
from grader.sandbox.request import Preloaded, PreloadError, load_request, pack_request
from grader.submission import build_submission

ROOT = Path(__file__).resolve().parent.parent


def _requests() -> list[bytes]:
    base = torch.arange(6.0).reshape(2, 3)
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    return [
        pack_request({"op": "call", "args": (base, base.t(), base[1]), "kwargs": {"dim": 1}, "seed": 3}),
        pack_request({"op": "call", "args": (nn.Parameter(torch.ones(2)), torch.ones(2, requires_grad=True))}),
        pack_request({"op": "call", "args": (model.eval(), torch.ones(4, 3)), "kwargs": {}, "seed": 5}),
        pack_request({"op": "call", "args": (1, 2.5, "x", None), "kwargs": {}}),
    ]


def _plan(requests: list[bytes]) -> bytes:
    return b"".join(framed(r) for r in requests)


def test_a_preloaded_request_is_what_the_worker_would_load_from_its_bytes() -> None:
    requests = _requests()
    preloaded = Preloaded.load(_plan(requests))
    assert len(preloaded) == len(requests)
    for data in requests:
        _same(preloaded.take(bytearray(data)), load_request(data))  # a frame may arrive as a bytearray
    views = Preloaded.load(_plan(requests)).take(requests[0])["args"]
    assert views[0].untyped_storage().data_ptr() == views[1].untyped_storage().data_ptr()


def test_each_preloaded_request_is_handed_out_once() -> None:
    first, second = _requests()[:2]
    preloaded = Preloaded.load(_plan([first, first, second]))
    one, two = preloaded.take(first), preloaded.take(first)
    assert one is not None and two is not None and one is not two
    assert one["args"][0].data_ptr() != two["args"][0].data_ptr()  # an argument changed in place stays its own
    assert preloaded.take(first) is None  # a third time: loaded from its bytes, by the worker
    assert preloaded.take(pack_request({"op": "call", "args": (7,)})) is None  # not planned


def test_the_zygote_never_imports_for_a_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request naming a module the zygote has not imported (a check's own class, say) is left to the worker."""
    module = types.ModuleType("grader_test_not_imported")

    class Point:
        def __init__(self, x: int) -> None:
            self.x = x

    Point.__module__, Point.__qualname__ = module.__name__, "Point"
    module.Point = Point  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    foreign = pack_request({"op": "call", "args": (Point(3),)})
    monkeypatch.delitem(sys.modules, module.__name__)
    plain = _requests()[0]
    preloaded = Preloaded.load(_plan([foreign, plain]))
    assert module.__name__ not in sys.modules
    assert preloaded.take(foreign) is None and preloaded.take(plain) is not None


def test_a_plan_over_the_bounds_or_cut_short_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = _plan(_requests())
    with pytest.raises(PreloadError, match="cut short"):
        Preloaded.load(plan[:-1])
    with pytest.raises(PreloadError, match="cut short"):
        Preloaded.load(plan + b"\x00\x00")
    monkeypatch.setattr(request_module, "MAX_PRELOAD_REQUESTS", 3)
    with pytest.raises(PreloadError, match="more than 3 requests"):
        Preloaded.load(plan)
    monkeypatch.setattr(request_module, "MAX_PRELOAD_BYTES", len(plan) - 1)
    with pytest.raises(PreloadError, match="over the"):
        Preloaded.load(plan)


def _serve(tmp_path: Path, requests: list[bytes], module: types.ModuleType, preloaded: Preloaded | None) -> list[Any]:
    """The answers of a ``_Server`` (``test_worker_server``'s harness) to ``requests``, the ready message first."""
    ours, theirs = socket.socketpair()
    output = os.open(tmp_path / worker.OUTPUT_FILE, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        server = worker._Server(
            theirs, scratch=tmp_path, limits=Limits(), output_fd=output, layers=[], preloaded=preloaded
        )
        server.modules[module.__name__] = module
        ours.sendall(b"".join(framed(r) for r in requests))
        ours.shutdown(socket.SHUT_WR)
        server.serve()
        theirs.close()
        reader = FrameReader(max_bytes=1 << 20)
        answers: list[Any] = []
        while len(answers) < len(requests) + 1:
            frame = recv_frame(ours, reader)
            if not frame.startswith(NOTICE):
                answers.append(bytes(frame))
        return answers
    finally:
        ours.close()
        os.close(output)


def test_a_worker_answers_a_preloaded_request_as_one_it_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Byte for byte, and an argument the student's function changes in place is never seen by a later call."""
    import builtins

    monkeypatch.setattr(builtins, "__import__", builtins.__import__)  # serve() installs its meter
    module = types.ModuleType("trusted")
    module.grow = lambda t: t.add_(1)  # type: ignore[attr-defined]  # changes its argument, returns it
    request = pack_request(
        {"op": "call", "module": "trusted", "function": "grow", "args": (torch.zeros(3),), "kwargs": {}, "seed": 1}
    )
    loaded: list[bytes] = []
    original = request_module.load_request

    def spy(data: bytes | bytearray) -> Any:
        loaded.append(bytes(data))
        return original(data)

    monkeypatch.setattr(request_module, "load_request", spy)
    plain = _serve(tmp_path, [request, request], module, None)
    assert len(loaded) == 2
    loaded.clear()
    preloaded = _serve(tmp_path, [request, request], module, Preloaded.load(_plan([request])))
    assert loaded == [request]  # the first from the plan, the second loaded from its bytes
    assert preloaded == plain
    assert unpack_answer(preloaded[1])[0]["status"] == unpack_answer(preloaded[2])[0]["status"] == "ok"


def test_a_zygote_says_how_many_planned_requests_it_holds_and_forks_after_a_plan_it_cannot_load(
    tmp_path: Path,
) -> None:
    """Whether it loaded the same plan again is not seen from here: ``_Plan.load`` compares digests."""
    requests = _requests()
    with Zygote().start() as zygote:
        assert zygote.preload(requests) == len(requests)
        assert zygote.preload(requests) == len(requests)  # the same plan again: it still holds them all
        assert zygote.preload([b"\x80\x05not a pickle"]) == 0  # what it cannot load, it leaves to the workers
        pid, channel = zygote.fork(scratch=Path(tmp_path), limits=Limits())
        try:
            reader = FrameReader(max_bytes=1 << 20)
            assert unpack_answer(recv_frame(channel, reader))[0]["status"] == "ready"
        finally:
            channel.close()
            os.kill(pid, 9)
            zygote.reap(pid)


def _comparable(report: Report) -> list[dict[str, Any]]:
    return [{**dataclasses.asdict(c), "duration_s": 0} for c in report.checks]


STUBS = {p.name: p.read_bytes() for p in sorted((ROOT / "exercises").glob("ex*.py"))}
SOLUTIONS = {p.name: p.read_bytes() for p in sorted((ROOT / "solutions").glob("ex*.py"))}
IN_PLACE = {
    **SOLUTIONS,
    "ex02_operations.py": SOLUTIONS["ex02_operations.py"] + b"\n\ndef add(a, b):\n    return a.add_(b)\n",
    "ex05_activations.py": SOLUTIONS["ex05_activations.py"]
    + b"\n\ndef apply_sigmoid(x):\n    return x.sigmoid_() if x.is_floating_point() and not x.requires_grad else x\n",
}


def test_grades_are_the_same_with_the_plan_preloaded_or_not(
    bundled: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    submissions = [
        build_submission(files, bundled, name=name)
        for name, files in (("reference", SOLUTIONS), ("in_place", IN_PLACE), ("stubs", STUBS))
    ]
    sent: list[int] = []
    original = Zygote.preload

    def counting(self: Zygote, requests: Any) -> int:
        held = original(self, requests)
        sent.append(held)
        return held

    monkeypatch.setattr(Zygote, "preload", counting)
    with Grader(bundled) as grader:
        preloaded = [grader.grade(s) for s in submissions]
    assert len(sent) == 1 and sent[0] > 100  # once a session, every planned call of the assignment
    monkeypatch.setattr(Zygote, "preload", lambda self, requests: 0)
    with Grader(bundled) as grader:
        loaded = [grader.grade(s) for s in submissions]
    assert [_comparable(r) for r in preloaded] == [_comparable(r) for r in loaded]
    assert preloaded[0].score == preloaded[0].max_score and preloaded[1].score < preloaded[1].max_score
