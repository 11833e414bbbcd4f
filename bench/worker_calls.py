"""Benchmark: a worker's CPU over a real submission's calls, replayed, by phase; two checkouts interleaved.

Grades the chosen students of a class once, in this process, recording what
the grader sends each worker it forks (the submission's files, then every
request, one by one or as a batch of planned calls). Then forks fresh workers
from one zygote, or two (``--against``: another checkout's environment), and
replays each recorded worker to them in interleaved rounds, reading answers
as the grader does (a 2 ms nap, then what arrived). For each worker, from
``/proc/<pid>/schedstat`` (read while it is blocked, and as a zombie):

- ``ready``: fork to its "ready" (session, descriptors, rlimits, identity, Landlock, seccomp);
- ``init``: the submission's files received and written;
- ``calls``: every import and call of the recorded worker;
- ``exit``: SIGKILL to zombie (its memory torn down);
- ``zygote``: the zygote's CPU to fork and reap it.

Figures are ms per worker (min and median over rounds), with minor page
faults; every answer frame's digest is compared across checkouts and rounds.

    python bench/worker_calls.py CLASS [--students 0,1,2,3,4,5,6,8,9] [--rounds 10] [--against OTHER/bin/python]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import worker_start  # this folder (bench/), as the script runs
from worker_start import _cpu_ns, _stat

from grader.assignment import load_assignment
from grader.grading import Grader
from grader.sandbox import memory, runner
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.loading import NOTICE
from grader.sandbox.protocol import framed
from grader.sandbox.request import pack_request
from grader.sandbox.scratch import remove_tree
from grader.submission import load_submission

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("ready", "init", "calls", "exit", "zygote")


def record(class_dir: Path, students: list[int]) -> tuple[list[dict[str, Any]], list[bytes]]:
    """What the grader sends each worker while grading ``students`` (indexes into the class, sorted by name),
    and the plan it sends the zygote (``Zygote.preload``)."""
    recorded: list[dict[str, Any]] = []
    plan: list[bytes] = []
    worker_class = runner.Worker
    originals = (worker_class.__init__, worker_class.init, worker_class.request, worker_class.pipeline)
    in_init: set[int] = set()

    def start(self: Any, *args: Any, **kwargs: Any) -> None:
        self._recorded = {"files": None, "steps": []}
        recorded.append(self._recorded)
        originals[0](self, *args, **kwargs)

    def init(self: Any, files: Any, **kwargs: Any) -> Any:
        self._recorded["files"] = dict(files)
        in_init.add(id(self))
        try:
            return originals[1](self, files, **kwargs)
        finally:
            in_init.discard(id(self))

    def request(self: Any, message: Any, *, send: bool = True, **kwargs: Any) -> Any:
        if send and id(self) not in in_init:
            self._recorded["steps"].append(message if isinstance(message, bytes) else pack_request(dict(message)))
        return originals[2](self, message, send=send, **kwargs)

    def pipeline(self: Any, requests: list[bytes], *args: Any, **kwargs: Any) -> Any:
        self._recorded["steps"].append(list(requests))
        return originals[3](self, requests, *args, **kwargs)

    assignment = load_assignment(ROOT)
    paths = sorted(class_dir.iterdir())
    patched = (start, init, request, pipeline)
    for name, function in zip(("__init__", "init", "request", "pipeline"), patched, strict=True):
        setattr(worker_class, name, function)
    grader = Grader(assignment)
    preload = grader.zygote.preload
    grader.zygote.preload = lambda requests: plan.extend(requests) or preload(requests)  # type: ignore[method-assign]
    try:
        for index in students:
            grader.grade(load_submission(paths[index], assignment))
    finally:
        grader.close()
        for name, function in zip(("__init__", "init", "request", "pipeline"), originals, strict=True):
            setattr(worker_class, name, function)
    return [r for r in recorded if r["files"] is not None], plan


def _settle(pid: int, states: str) -> None:
    """``worker_start._settle`` with a longer wait: a worker may still be in the calls of a real submission."""
    worker_start._settle(pid, states, timeout_s=5.0)


def _answers(sock: socket.socket, count: int, nap_s: float = runner.PIPELINE_NAP_S) -> list[bytes]:
    """``count`` answer frames, read as the grader reads planned answers: a nap, then what arrived."""
    buffer = bytearray()
    answers: list[bytes] = []
    while len(answers) < count:
        time.sleep(nap_s)
        while True:
            try:
                chunk = sock.recv(1 << 20, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            if not chunk:
                raise RuntimeError("the worker closed its channel")
            buffer += chunk
        while len(buffer) >= 8:
            (size,) = struct.unpack_from(">Q", buffer)
            if len(buffer) < 8 + size:
                break
            frame = bytes(buffer[8 : 8 + size])
            del buffer[: 8 + size]
            if not frame.startswith(NOTICE):
                answers.append(frame)
    return answers


def replay(zygote: Zygote, scratch_root: Path, recorded: dict[str, Any], digests: list[str]) -> dict[str, int]:
    """One recorded worker replayed to a fresh worker of ``zygote``: its CPU (ns) by phase, and its faults."""
    zygote_pid = zygote.pid or 0
    _settle(zygote_pid, "S")
    z0 = _cpu_ns(zygote_pid)
    worker = runner.Worker(zygote, scratch_root=scratch_root, limits=Limits())
    pid = worker.pid
    try:
        _settle(zygote_pid, "S")
        z1 = _cpu_ns(zygote_pid)
        _settle(pid, "S")
        ready, ready_faults = _cpu_ns(pid), int(_stat(pid)[7])
        worker.init(recorded["files"], timeout_s=30)
        _settle(pid, "S")
        init = _cpu_ns(pid)
        worker.sock.setblocking(True)
        for step in recorded["steps"]:
            requests = step if isinstance(step, list) else [step]
            sender = threading.Thread(target=worker.sock.sendall, args=(b"".join(framed(r) for r in requests),))
            sender.start()
            digests += [hashlib.blake2b(a, digest_size=16).hexdigest() for a in _answers(worker.sock, len(requests))]
            sender.join()
        _settle(pid, "S")
        calls, call_faults = _cpu_ns(pid), int(_stat(pid)[7])
        _settle(zygote_pid, "S")
        z2 = _cpu_ns(zygote_pid)
        os.kill(pid, signal.SIGKILL)  # as Worker.kill does; read the zombie before it is reaped
        _settle(pid, "Z")
        total = _cpu_ns(pid)
    finally:
        worker.kill()
    _settle(zygote_pid, "S")
    z3 = _cpu_ns(zygote_pid)
    return {
        "ready": ready,
        "init": init - ready,
        "calls": calls - init,
        "exit": total - calls,
        "zygote": (z1 - z0) + (z3 - z2),
        "faults_ready": ready_faults,
        "faults_calls": call_faults - ready_faults,
    }


def _start(python: str, scratch_root: Path, plan: list[bytes]) -> Zygote:
    own, sys.executable = sys.executable, python
    try:
        zygote = Zygote().start()
    finally:
        sys.executable = own
    zygote.preload(plan)  # as a grading process does before its first worker (0 where a checkout cannot)
    for _ in range(memory.WORTH_IT_AFTER_FORKS + 1):  # a class's steady state: its memory on huge pages
        runner.Worker(zygote, scratch_root=scratch_root, limits=Limits()).kill()
    return zygote


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("class_dir", type=Path)
    parser.add_argument("--students", default="0,1,2,3,4,5,6,8,9", help="indexes into the class, sorted by name")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--against", metavar="PYTHON", help="also replay to a zygote run by this interpreter")
    args = parser.parse_args()
    recorded, plan = record(args.class_dir, [int(i) for i in args.students.split(",")])
    pythons = {"this": sys.executable}
    if args.against:
        pythons = {"against": args.against, **pythons}
    scratch_root = Path(tempfile.mkdtemp(prefix="grader-bench-calls-"))
    scratch_root.chmod(0o711)
    zygotes = {name: _start(python, scratch_root, plan) for name, python in pythons.items()}
    rounds: dict[str, list[dict[str, int]]] = {name: [] for name in zygotes}
    digests: dict[str, list[str]] = {}
    try:
        for i in range(args.rounds):
            for name in list(zygotes) if i % 2 == 0 else list(reversed(zygotes)):
                seen: list[str] = []
                sums: dict[str, int] = {}
                for worker in recorded:
                    for key, value in replay(zygotes[name], scratch_root, worker, seen).items():
                        sums[key] = sums.get(key, 0) + value
                rounds[name].append(sums)
                if digests.setdefault(name, seen) != seen:
                    raise SystemExit(f"{name}: the answers changed between rounds")
    finally:
        for zygote in zygotes.values():
            zygote.close()
        remove_tree(scratch_root)
    workers = len(recorded)
    requests = sum(len(s) if isinstance(s, list) else 1 for r in recorded for s in r["steps"])
    print(f"{workers} workers, {requests} requests, {args.rounds} rounds: per worker, min / median over rounds")
    print("".ljust(14) + "".join(f"{name:>24}" for name in rounds))
    for key in (*PHASES, "faults_ready", "faults_calls"):
        row = key.ljust(14)
        for results in rounds.values():
            values = [r[key] / workers / (1 if key.startswith("faults") else 1e6) for r in results]
            row += f"{min(values):>12.3f}{statistics.median(values):>12.3f}"
        print(row + ("" if key.startswith("faults") else "  ms"))
    names = list(digests)
    for other in names[1:]:
        same = "the same" if digests[other] == digests[names[0]] else "DIFFERENT"
        print(f"answers of {other} and {names[0]}: {same} ({len(digests[other])} frames)")


if __name__ == "__main__":
    main()
