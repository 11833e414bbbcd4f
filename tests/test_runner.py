"""What a worker sends back is bounded here, whatever bytes it forges.

The student's code below replaces the worker's answer writer (module globals of
``grader.sandbox.worker``, which any student code can reach through
``sys.modules``) and sends what it likes: a frame that announces 120 MiB, facts
of megabytes, a value description of empty lists, more layers than a value may
have. Each must fail only its own call, with a reason that names the bound, and
the next call must be served as usual.
"""

from __future__ import annotations

import gc
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader import codec
from grader.sandbox import worker
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.protocol import AnswerBudget
from grader.sandbox.request import pack_request
from grader.sandbox.runner import (
    MAX_HELD_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_SUBMISSION_TEXT_CHARS,
    MAX_TRACEBACK_CHARS,
    PlannedCall,
    SubmissionRunner,
    call_request,
)

pytestmark = pytest.mark.slow

FORGER = '''
import json
import struct
import sys

import torch
from torch import nn

worker = sys.modules["grader.sandbox.worker"]
codec = sys.modules["grader.codec"]


def _send_once(make):
    """The next answer is the bytes ``make`` returns (length header included), then the writer is as it was."""
    real = worker.send_frame

    def forged(sock, payload):
        worker.send_frame = real
        sock.sendall(make(payload))

    worker.send_frame = forged


def _framed(payload):
    return struct.pack(">Q", len(payload)) + payload


def _answer(facts, value=b""):
    text = json.dumps(facts).encode()
    return struct.pack(">I", len(text)) + text + value


def _value(header):
    return b"GRC1" + struct.pack(">II", len(header), 0) + header


def announce(mib):
    _send_once(lambda payload: struct.pack(">Q", mib * 1024 * 1024))
    return 0


def facts(size):
    _send_once(lambda payload: _framed(_answer({"status": "raised", "message": "m" * size, "type": "E"})))
    return 0


def long_texts(size):
    answer = {"status": "raised", "message": "m" * size, "type": "T" * size, "traceback": "t" * size,
              "output": "o" * size, "bases": ["ValueError"] * 1000}
    _send_once(lambda payload: _framed(_answer(answer)))
    return 0


def empty_lists(count):
    header = b'{"t":"list","v":[' + b"[]," * count + b"[]]}"
    _send_once(lambda payload: _framed(_answer({"status": "ok"}, _value(header))))
    return 0


def layers(count):
    codec.MAX_NODES = 10**9  # the worker's own bound, lifted: only the grader's is left
    return nn.Sequential(*[nn.Identity() for _ in range(count)])


def empty_parameters(count):
    codec.MAX_NODES = 10**9
    layer = nn.Identity()
    for i in range(count):
        layer.register_parameter(f"p{i}", nn.Parameter(torch.empty(0)))
    return layer


def zeros(n):
    return torch.zeros(n)


def double(x):
    return 2 * x
'''


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    with Zygote().start() as z:
        yield z


@pytest.fixture
def runner(zygote: Zygote, tmp_path: Path) -> Iterator[SubmissionRunner]:
    files = {"forger.py": textwrap.dedent(FORGER).encode()}
    runner = SubmissionRunner(zygote, files, Limits(timeout_s=5.0), tmp_path)
    yield runner
    runner.close()


def _call(runner: SubmissionRunner, function: str, *args: object, seed: int = 0) -> object:
    return runner.call("forger", function, args, seed=seed)


def _still_serves(runner: SubmissionRunner) -> None:
    result = runner.call("forger", "double", (torch.ones(2),), seed=1)
    assert result.status == "ok" and result.value.tolist() == [2.0, 2.0]


def test_a_frame_over_the_answer_bound_is_refused_from_its_header(runner: SubmissionRunner) -> None:
    result = runner.call("forger", "announce", (120,), seed=0)
    assert result.status == "unsupported"
    assert result.message == "returned 120 MiB, more than the 16 MiB an answer may be"
    _still_serves(runner)


def test_the_answers_of_a_submission_share_one_byte_budget(runner: SubmissionRunner) -> None:
    runner._budget = AnswerBudget(frame_bytes=3 * 1024 * 1024)  # as if 253 MiB had been read already
    assert runner.call("forger", "zeros", (256 * 1024,), seed=0).status == "ok"  # 1 MiB
    assert runner.call("forger", "zeros", (256 * 1024,), seed=1).status == "ok"
    result = runner.call("forger", "zeros", (256 * 1024,), seed=2)
    assert result.status == "unsupported"
    assert "left of the 256 MiB they may be in all" in result.message


def test_facts_over_their_bound_are_refused_before_they_are_parsed(runner: SubmissionRunner) -> None:
    result = runner.call("forger", "facts", (4 * 1024 * 1024,), seed=0)
    assert result.status == "unsupported"
    assert "facts (message, traceback, printed output) are 4 MiB, more than the 1 MiB" in result.message
    _still_serves(runner)


def test_every_text_of_an_answer_is_cut_here(runner: SubmissionRunner) -> None:
    result = runner.call("forger", "long_texts", (100_000,), seed=0)
    assert result.status == "raised"
    note = len("\n... [100,000 more characters not shown]")
    assert len(result.message) <= MAX_MESSAGE_CHARS + note
    assert len(result.type_name) <= 200 + note
    assert len(result.traceback) <= MAX_TRACEBACK_CHARS + note
    assert len(result.output) <= runner.limits.output_bytes + note
    assert len(result.bases) <= 32
    _still_serves(runner)


def test_all_texts_of_a_submission_share_one_bound(runner: SubmissionRunner) -> None:
    total = 0
    for seed in range(5):  # each answer keeps about 72,000 characters of its 400,000
        result = runner.call("forger", "long_texts", (100_000,), seed=seed)
        total += sum(len(t) for t in (result.message, result.type_name, result.traceback, result.output))
    assert total <= MAX_SUBMISSION_TEXT_CHARS + 5 * 4 * 120  # each cut text keeps its note
    assert "this submission sent more than 131,072 in all" in result.message


def test_a_value_description_over_its_bound_is_refused_before_it_is_parsed(runner: SubmissionRunner) -> None:
    result = runner.call("forger", "empty_lists", (700_000,), seed=0)  # 2.1 MB of "[],"
    assert result.status == "unsupported"
    assert result.message == "returned a value whose description is 2 MiB, more than the 1 MiB one answer's may be"
    _still_serves(runner)


@pytest.mark.parametrize(
    ("function", "count"),
    [("layers", codec.MAX_NODES // codec.MODULE_PARTS), ("empty_parameters", codec.MAX_NODES // codec.TENSOR_PARTS)],
)
def test_layers_and_parameters_count_against_the_parts_of_a_value(
    runner: SubmissionRunner, function: str, count: int
) -> None:
    result = runner.call("forger", function, (count - 2,), seed=0)
    assert result.status == "ok"
    result = runner.call("forger", function, (count + 1,), seed=1)
    assert result.status == "unsupported"
    assert "more than 40,000 parts (a layer counts 40, a tensor 20)" in result.message


def _planned_zeros(count: int, numel: int) -> list[PlannedCall]:
    request = [
        pack_request(call_request("forger", "zeros", (numel,), {}, seed=i, return_args=False)) for i in range(count)
    ]
    return [PlannedCall("forger", "zeros", r) for r in request]


def test_planned_answers_are_held_up_to_a_bound_and_let_go_once_read(runner: SubmissionRunner) -> None:
    numel = 3 * 1024 * 1024 // 4  # 3 MiB each: two fit in what is held, the rest are read and let go
    plan = _planned_zeros(8, numel)
    runner.expect([plan])
    runner.start_check(0)
    runner.planned_answers(0)
    answers = list(runner._answers.values())
    assert [a.status for a in answers] == ["ok"] * 8
    assert sum(len(a.encoded) for a in answers) <= MAX_HELD_BYTES
    assert [a.evicted for a in answers] == [False] * 2 + [True] * 6
    assert [bool(a.digest) for a in answers] == [True] * 2 + [False] * 6  # not hashed: read again if asked
    for i in range(8):
        result = runner.call("forger", "zeros", (numel,), seed=i)
        assert result.status == "ok" and result.value.shape == (numel,)
        assert all(a.value is None and not a.encoded for a in list(runner._answers.values())[: i + 1])
    assert runner.check_digests() is not None


def _big_buffers_in_frames() -> int:
    """Frames (live, or kept by a traceback) whose locals hold a buffer over 1 MiB: a killed worker's answer."""
    return sum(
        1
        for o in gc.get_objects()
        if type(o) is types.FrameType  # never isinstance: some of torch's objects warn when asked their class
        and any(isinstance(v, bytes | bytearray) and len(v) > 2**20 for v in o.f_locals.values())
    )


def test_answers_that_killed_planned_workers_are_let_go_at_once(runner: SubmissionRunner) -> None:
    # Each planned call forges 2 MiB of facts: its worker is killed and a fresh one serves the next.
    # The garbage collector is off: whatever kept those answers in a cycle would show.
    requests = [
        pack_request(call_request("forger", "facts", (2 * 1024 * 1024,), {}, seed=i, return_args=False))
        for i in range(4)
    ]
    runner.expect([[PlannedCall("forger", "facts", r)] for r in requests])
    answers = []
    gc.collect()
    gc.disable()
    try:
        for check in range(4):
            runner.start_check(check)
            answers += runner.planned_answers(check)
        kept = _big_buffers_in_frames()
    finally:
        gc.enable()
    assert [a.status for a in answers] == ["unsupported"] * 4
    assert kept == 0


def _drawn_at_import(tmp_path: Path) -> torch.Tensor:
    """What a module draws from torch's generator as a worker of a fresh zygote imports it."""
    tmp_path.mkdir()
    source = textwrap.dedent(
        """
        import torch
        DRAWN = torch.randn(4)

        def drawn():
            return DRAWN
        """
    )
    with Zygote().start() as zygote:
        runner = SubmissionRunner(zygote, {"draws.py": source.encode()}, Limits(timeout_s=5.0), tmp_path)
        try:
            result = runner.call("draws", "drawn", (), seed=0)
        finally:
            runner.close()
    assert result.status == "ok"
    return result.value


def test_a_module_drawing_random_numbers_when_imported_draws_the_same_on_every_run(tmp_path: Path) -> None:
    """Each process's torch generator starts from a seed of its own: a worker seeds it before an import."""
    expected = torch.randn(4, generator=torch.Generator().manual_seed(worker.IMPORT_SEED))
    first = _drawn_at_import(tmp_path / "first")
    second = _drawn_at_import(tmp_path / "second")
    assert torch.equal(first, expected) and torch.equal(second, expected)
