"""Benchmark: what a fresh sandboxed worker costs, from the fork request to its first answered call.

Starts one zygote, then forks N workers one after another. For each it times
the fork request up to the worker's "ready" (session, descriptors, rlimits,
identity, Landlock and seccomp all applied), and up to the answer of its
first call (a student module written to scratch, imported, one function
called on a small tensor). Medians and quartiles, wall clock, in ms.

    python bench/worker_start.py [--workers 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.runner import Worker
from grader.sandbox.scratch import remove_tree

SOURCE = b"import torch\n\ndef double(x):\n    return x * 2\n"


def _summary(samples: list[float]) -> dict[str, float]:
    q1, median, q3 = statistics.quantiles(samples, n=4)
    return {"median_ms": round(median * 1000, 2), "q1_ms": round(q1 * 1000, 2), "q3_ms": round(q3 * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=60)
    args = parser.parse_args()
    scratch_root = Path(tempfile.mkdtemp(prefix="grader-bench-start-"))
    scratch_root.chmod(0o711)  # as the grader's own scratch roots: workers may run as another uid
    ready: list[float] = []
    first_call: list[float] = []
    layers: tuple[str, ...] = ()
    try:
        with Zygote().start() as zygote:
            for _ in range(args.workers):
                started = time.perf_counter()
                worker = Worker(zygote, scratch_root=scratch_root, limits=Limits())
                ready.append(time.perf_counter() - started)
                try:
                    worker.request({"op": "init", "files": {"bench_module.py": SOURCE}}, timeout_s=30)
                    worker.request({"op": "import", "module": "bench_module"}, timeout_s=30)
                    answer = worker.request(
                        {"op": "call", "module": "bench_module", "function": "double", "seed": 0,
                         "args": (torch.ones(4),), "kwargs": {}},
                        timeout_s=30,
                    )  # fmt: skip
                    first_call.append(time.perf_counter() - started)
                    assert answer["status"] == "ok", answer
                    layers = worker.layers
                finally:
                    worker.close()
    finally:
        remove_tree(scratch_root)
    figures = {
        "workers": args.workers,
        "layers": list(layers),
        "fork_to_ready": _summary(ready),
        "fork_to_first_call": _summary(first_call),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
