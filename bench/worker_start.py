"""Benchmark: what a fresh sandboxed worker costs, in CPU and wall time, from the fork request to its exit.

Starts one zygote, then forks N workers one after another, each for a
``trivial`` submission (one module, one function) or a ``full`` one (every
file of ``solutions/``, all imported). For each worker it reads, while the
worker is blocked (so the kernel's counters are exact):

- ``ready``: the worker's own CPU from the fork to its "ready" (session,
  descriptors, rlimits, identity, Landlock and seccomp all applied);
- ``first_call``: to the answer of its first call (the files received, every
  module imported, one function called on a small tensor);
- ``total``: to its death, SIGKILLed as the grader kills it, read while it is
  a zombie: the exit's teardown of its memory is charged to it;
- ``zygote_fork`` / ``zygote_reap``: the zygote's CPU to serve the fork
  request (the fork itself: page tables copied in the parent) and the wait;
- ``grader``: this process's CPU in ``Worker()`` and ``Worker.kill()``.

The zygote first forks ``--warmup`` workers (by default as many as it forks
before it puts its memory on huge pages, ``memory.WORTH_IT_AFTER_FORKS``), so
the figures are those of a class being graded.

CPU is the kernel's ``sum_exec_runtime`` (``/proc/<pid>/schedstat`` field 1,
ns), user + system; user/system split from ``/proc/<pid>/stat`` ticks summed
over all workers, and minor page faults per worker. Medians and quartiles,
in ms.

    python bench/worker_start.py [--workers 60] [--submission trivial|full|both] [--warmup 32]
    python bench/worker_start.py --against OTHER/bin/python --workers 20 --rounds 10

``--against``: a second zygote run by another interpreter (an environment
where another checkout is installed), measured in interleaved rounds in the
same run, with each figure's ratio to it: on a loaded machine, compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from grader.sandbox import memory
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.runner import Worker
from grader.sandbox.scratch import remove_tree

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = {"bench_module.py": b"import torch\n\ndef double(x):\n    return x * 2\n"}
_TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _submission(kind: str) -> tuple[dict[str, bytes], list[str], tuple[str, str, tuple[Any, ...]]]:
    """The files, the modules to import and the first call (module, function, args) of a submission."""
    if kind == "trivial":
        return TRIVIAL, ["bench_module"], ("bench_module", "double", (torch.ones(4),))
    files = {p.name: p.read_bytes() for p in sorted((ROOT / "solutions").glob("*.py"))}
    modules = [name[:-3] for name in files]
    return files, modules, ("ex05_activations", "apply_softmax", (torch.ones(2, 3), 1))


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (index 0 is the state)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _cpu_ns(pid: int) -> int:
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def _settle(pid: int, states: str, timeout_s: float = 2.0) -> None:
    """Wait until ``pid`` is in one of ``states`` (S: blocked, Z: dead), so its counters are final."""
    deadline = time.monotonic() + timeout_s
    while _stat(pid)[0] not in states:
        if time.monotonic() > deadline:
            raise RuntimeError(f"process {pid} did not reach state {states}")
        time.sleep(0.0002)


def _memory(pid: int) -> dict[str, int]:
    """The zygote's anonymous memory, and how much of it is on huge pages (``memory.collapse_huge_pages``)."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        fields = dict(line.split(":", 1) for line in f.read().splitlines()[1:])
    return {name: int(fields[name].split()[0]) for name in ("Anonymous", "AnonHugePages")}


def _summary(samples: list[float]) -> dict[str, float]:
    q1, median, q3 = statistics.quantiles(samples, n=4)
    return {"median_ms": round(median * 1e3, 3), "q1_ms": round(q1 * 1e3, 3), "q3_ms": round(q3 * 1e3, 3)}


def measure(kind: str, workers: int, zygote: Zygote, scratch_root: Path) -> dict[str, Any]:
    files, modules, (module, function, call_args) = _submission(kind)
    zygote_pid = zygote.pid or 0
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "wall_ready",
            "wall_first_call",
            "ready",
            "first_call",
            "total",
            "exit",
            "zygote_fork",
            "zygote_reap",
            "grader",
        )
    }
    faults: dict[str, list[float]] = {"ready": [], "first_call": [], "total": []}
    user = system = 0
    layers: tuple[str, ...] = ()

    def zygote_cpu() -> int:
        _settle(zygote_pid, "S")
        return _cpu_ns(zygote_pid)

    def timed(action: Callable[[], Any]) -> tuple[Any, float]:
        started = time.thread_time_ns()
        value = action()
        return value, (time.thread_time_ns() - started) / 1e9

    for _ in range(workers):
        z0 = zygote_cpu()
        started = time.perf_counter()
        worker, grader_start = timed(lambda: Worker(zygote, scratch_root=scratch_root, limits=Limits()))
        samples["wall_ready"].append(time.perf_counter() - started)
        z1 = zygote_cpu()
        pid = worker.pid
        try:
            _settle(pid, "S")
            ready = _cpu_ns(pid)
            faults["ready"].append(int(_stat(pid)[7]))
            worker.init(files, timeout_s=30)
            for name in modules:
                answer = worker.request({"op": "import", "module": name}, timeout_s=30)
                assert answer["status"] == "ok", answer
            request = {"op": "call", "module": module, "function": function, "seed": 0, "args": call_args}
            answer = worker.request({**request, "kwargs": {}}, timeout_s=30)
            assert answer["status"] == "ok", answer
            samples["wall_first_call"].append(time.perf_counter() - started)
            _settle(pid, "S")
            first_call = _cpu_ns(pid)
            faults["first_call"].append(int(_stat(pid)[7]))
            layers = worker.layers
            z2 = zygote_cpu()
            os.kill(pid, signal.SIGKILL)  # as Worker.kill does; read the zombie before it is reaped
            _settle(pid, "Z")
            total = _cpu_ns(pid)
            fields = _stat(pid)
            faults["total"].append(int(fields[7]))
            user += int(fields[11])
            system += int(fields[12])
        finally:
            _, grader_kill = timed(worker.kill)
        z3 = zygote_cpu()
        samples["ready"].append(ready / 1e9)
        samples["first_call"].append(first_call / 1e9)
        samples["total"].append(total / 1e9)
        samples["exit"].append((total - first_call) / 1e9)
        samples["zygote_fork"].append((z1 - z0) / 1e9)
        samples["zygote_reap"].append((z3 - z2) / 1e9)
        samples["grader"].append(grader_start + grader_kill)
    return {
        "submission": kind,
        "zygote_memory_kib": _memory(zygote_pid),
        "workers": workers,
        "layers": list(layers),
        "cpu": {k: _summary(v) for k, v in samples.items() if not k.startswith("wall")},
        "cpu_mean_total_ms": round(statistics.fmean(samples["total"]) * 1e3, 3),
        "cpu_user_system_s": [round(user * _TICK_S, 2), round(system * _TICK_S, 2)],
        "minor_faults": {k: statistics.median(v) for k, v in faults.items()},
        "wall": {k[5:]: _summary(v) for k, v in samples.items() if k.startswith("wall")},
    }


def _start(python: str, scratch_root: Path, warmup: int) -> Zygote:
    """A zygote run by ``python`` (another checkout's environment runs that checkout's zygote), warmed up."""
    own, sys.executable = sys.executable, python
    try:
        zygote = Zygote().start()
    finally:
        sys.executable = own
    for _ in range(max(1, warmup)):  # the zygote's own start-up, then a class's steady state
        Worker(zygote, scratch_root=scratch_root, limits=Limits()).kill()
    return zygote


def compare(kinds: list[str], pythons: dict[str, str], *, rounds: int, workers: int, warmup: int) -> dict[str, Any]:
    """Interleaved rounds on zygotes of several checkouts: the median over rounds of each round's median."""
    scratch_root = Path(tempfile.mkdtemp(prefix="grader-bench-start-"))
    scratch_root.chmod(0o711)
    zygotes = {name: _start(python, scratch_root, warmup) for name, python in pythons.items()}
    keys = ("ready", "first_call", "exit", "total", "zygote_fork", "zygote_reap", "grader")
    figures: dict[str, Any] = {}
    try:
        for kind in kinds:
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in zygotes}
            for i in range(rounds):
                order = list(zygotes) if i % 2 == 0 else list(reversed(zygotes))
                for name in order:
                    runs[name].append(measure(kind, workers, zygotes[name], scratch_root))
            medians = {}
            for name, results in runs.items():
                row = {k: statistics.median(r["cpu"][k]["median_ms"] for r in results) for k in keys}
                row["all"] = row["total"] + row["zygote_fork"] + row["zygote_reap"] + row["grader"]
                medians[name] = {k: round(v, 3) for k, v in row.items()}
            first, *others = medians
            ratios = {o: {k: round(medians[o][k] / medians[first][k], 2) for k in medians[first]} for o in others}
            figures[kind] = {"cpu_ms": medians, f"ratio_to_{first}": ratios}
    finally:
        for zygote in zygotes.values():
            zygote.close()
        remove_tree(scratch_root)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=60)
    parser.add_argument("--submission", choices=("trivial", "full", "both"), default="both")
    parser.add_argument("--warmup", type=int, default=memory.WORTH_IT_AFTER_FORKS)
    parser.add_argument("--against", metavar="PYTHON", help="also a zygote run by this interpreter (another checkout)")
    parser.add_argument("--rounds", type=int, default=10, help="with --against: interleaved rounds of --workers each")
    args = parser.parse_args()
    kinds = ["trivial", "full"] if args.submission == "both" else [args.submission]
    if args.against:
        pythons = {"against": args.against, "this": sys.executable}
        figures: Any = compare(kinds, pythons, rounds=args.rounds, workers=args.workers, warmup=args.warmup)
    else:
        scratch_root = Path(tempfile.mkdtemp(prefix="grader-bench-start-"))
        scratch_root.chmod(0o711)  # as the grader's own scratch roots: workers may run as another uid
        try:
            with _start(sys.executable, scratch_root, args.warmup) as zygote:
                figures = [measure(kind, args.workers, zygote, scratch_root) for kind in kinds]
        finally:
            remove_tree(scratch_root)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
