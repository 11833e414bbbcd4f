"""Benchmark: how fast a student hears back, in Jupyter (``check()``) and with ``grader check --watch``.

Jupyter: the ex05 hand-out notebook, its stubs replaced by the reference in
memory, run in a real kernel with nbclient; ``check()`` is timed in the
kernel, the first call (which starts the grading service) and the next ones.
Watch: ``grader.watch.watch`` on a folder holding ex05_activations.py; each
round saves one of two versions of the file, and the time from the save to
the report is measured (polling included).

    python bench/student_loop.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from grader.assignment import load_assignment
from grader.handout import write_handout

EX05 = "ex05_activations"


def jupyter(rounds: int) -> list[float]:
    from nbclient import NotebookClient

    assignment = load_assignment()
    with tempfile.TemporaryDirectory() as folder:
        write_handout(assignment, Path(folder))
        nb = nbformat.read(Path(folder) / f"{EX05}.ipynb", as_version=4)
        source = assignment.exercise(EX05).solution.read_text()
        tree = ast.parse(source)
        functions = {n.name: ast.get_source_segment(source, n) for n in tree.body if isinstance(n, ast.FunctionDef)}
        for cell in nb.cells[:-1]:
            if cell.cell_type == "code" and cell.source.lstrip().startswith("def "):
                name = cell.source.split("def ", 1)[1].split("(", 1)[0]
                cell.source = functions[name] or ""
        nb.cells[-1].source = (
            "import json, time\nfrom grader.jupyter import check\ntimes = []\n"
            f"for _ in range({rounds}):\n"
            "    started = time.perf_counter()\n"
            f"    result = check(exercise={EX05!r})\n"
            "    times.append(time.perf_counter() - started)\n"
            "    assert result.percent == 100.0, repr(result)\n"
            "print(json.dumps(times))"
        )
        NotebookClient(nb, timeout=600, kernel_name="python3").execute()
        return list(json.loads(nb.cells[-1].outputs[-1]["text"]))


def watch(rounds: int) -> tuple[float, list[float]]:
    from grader.sandbox.client import Zygote

    assignment = load_assignment()
    source = assignment.exercise(EX05).solution.read_text()
    versions = [source, source.replace("dim=-1", "dim=1")]
    latencies: list[float] = []
    saved = [0.0]
    stop = threading.Event()
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"{EX05}.py"
        target.write_text(versions[0])
        started = time.perf_counter()
        first: list[float] = []
        with Zygote().start() as zygote:
            from grader.grading import Grader
            from grader.watch import watch as run

            with Grader(assignment, zygote=zygote) as grader:

                def on_report(_: object) -> None:
                    now = time.perf_counter()
                    if not first:
                        first.append(now - started)
                    else:
                        latencies.append(now - saved[0])

                def on_status(line: str) -> None:
                    if line.startswith("watching"):
                        count = len(latencies) + 1
                        saved[0] = time.perf_counter()
                        target.write_text(versions[count % 2])

                run(Path(folder), grader, on_report=on_report, on_status=on_status, stop=stop, rounds=rounds + 1)
    return first[0], latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    times = jupyter(args.rounds)
    print(
        f"jupyter check(): first call {times[0]:.2f} s (starts the service); "
        f"next {len(times) - 1}: median {statistics.median(times[1:]):.3f} s, max {max(times[1:]):.3f} s; "
        f"ratio first/median {times[0] / statistics.median(times[1:]):.0f}x"
    )
    first, latencies = watch(args.rounds)
    print(
        f"check --watch: first result {first:.2f} s after start; save to result over {len(latencies)} saves: "
        f"median {statistics.median(latencies):.3f} s, max {max(latencies):.3f} s"
    )


if __name__ == "__main__":
    main()
