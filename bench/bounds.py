"""Benchmark: what one hostile student's files cost the grading process, against an honest student's.

Each case grades a class of two students with ``grader grade --force``, in a
fresh process: an honest student (the reference solutions) and a second one,
honest too for the baseline, hostile otherwise (the inputs of
tests/test_bounds.py, generated). Reported per case: the exit code, the peak
memory (max RSS) and the CPU time (user+sys) of the ``grader grade`` process
itself (which reads and parses every submission), and the CPU of its whole
tree (the zygote, grading processes and workers, from RUSAGE_CHILDREN), and
the peak memory of the grading process (the zygote's longest-lived child,
its VmHWM sampled every 10 ms), each with its difference from the baseline
measured in the same run. Goal (issue 24): no case adds more than 64 MiB to
either process.

    python bench/bounds.py [--jobs 1]
    python bench/bounds.py --grading-process [--rounds 5]

``--grading-process``: instead, each class is read as a batch reads it (in a
process of its own: the roster, every student's submission, copies graded
once), and what reaches grading is graded in a fresh grading process
(``hostile_answers.grade_probe``: ``Grader.run`` on every exercise) in
interleaved rounds; printed: the CPU and peak RSS of that process alone, the
workers and the zygote excluded, over the baseline's of the same round
(median and range over the rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hostile_answers import FIGURES, TITLES, compare, describe, grade_probe  # the script beside this one

ROOT = Path(__file__).resolve().parent.parent
HEAD = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": '

#: Runs ``grader grade`` in this process, then prints its own and its children's usage as JSON.
_PROBE = """
import json, os, resource, sys, threading, time
from grader.cli import cli

seen = {}  # pid of a process the zygote forked -> (first seen, last seen, its peak RSS in MiB)

def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []

def peak(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(l.split()[1]) / 1024 for l in f if l.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None

def sample():  # the grading process is the zygote's child that lives longest (workers come and go)
    while True:
        for zygote in children(os.getpid()):
            for pid in children(zygote):
                if (rss := peak(pid)) is not None:
                    first, _, most = seen.get(pid, (time.monotonic(), 0, 0))
                    seen[pid] = (first, time.monotonic(), max(most, rss))
        time.sleep(0.01)

threading.Thread(target=sample, daemon=True).start()
try:
    cli.main(sys.argv[1:], prog_name="grader", standalone_mode=False)
    code = 0
except SystemExit as exc:
    code = exc.code or 0
except Exception as exc:
    code = type(exc).__name__
own = resource.getrusage(resource.RUSAGE_SELF)
tree = resource.getrusage(resource.RUSAGE_CHILDREN)
engine = max(seen.values(), key=lambda v: v[1] - v[0], default=(0, 0, 0))
print(json.dumps({"code": code, "rss_mib": own.ru_maxrss / 1024, "engine_mib": engine[2],
                  "cpu_s": own.ru_utime + own.ru_stime,
                  "tree_cpu_s": own.ru_utime + own.ru_stime + tree.ru_utime + tree.ru_stime}))
"""


def _yaml_bomb(levels: int = 7) -> str:
    lines = ["  :lol:", "  - &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"  - &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "\n".join(lines) + f"\n  :submitters:\n  - :name: *a{levels - 1}\n    :sid: '22'\n"


def _solutions(mark: str = "") -> dict[str, bytes | str]:
    """The reference solutions; ``mark`` makes a second honest student's files differ (copies are graded once)."""
    return {p.name: f"# {mark}\n".encode() + p.read_bytes() for p in sorted((ROOT / "solutions").glob("ex*.py"))}


def _class(root: Path, second: dict[str, bytes | str]) -> Path:
    for name, files in (("alice", _solutions("alice")), ("mallory", second)):
        for rel, content in files.items():
            path = root / name / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def _defining(mib: int) -> str:
    """A file of ``mib`` MiB that defines one function of ex05_activations."""
    return "def apply_sigmoid(x):\n    return x\n# " + "x" * (mib * 2**20 - 60) + "\n"


def _notebook(source: str) -> str:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": source}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})


def _names(count: int) -> dict[str, bytes | str]:
    """The reference solutions, each after ``count`` module-level assignments (three tokens each)."""
    return {
        name: "".join(f"v{k}_{i} = {i}\n" for i in range(count)).encode() + content
        for k, (name, content) in enumerate(_solutions().items())
        if isinstance(content, bytes)
    }


def _zipped(root: Path) -> Path:
    """A student's own .zip of the honest solutions and 60 MB of data beside them, stored uncompressed."""
    _class(root, {})
    with zipfile.ZipFile(root / "mallory.zip", "w", zipfile.ZIP_STORED) as archive:
        for name, content in _solutions("mallory").items():
            archive.writestr(name, content)
        archive.writestr("data.bin", os.urandom(60 * 10**6))
    return root


def _fifo(root: Path) -> Path:
    root = _class(root, _solutions("mallory"))
    os.mkfifo(root / "mallory" / "pipe.py")
    os.mkfifo(root / "pipe.zip")
    return root


def _gradescope(root: Path) -> Path:
    for number in (1, 2):
        folder = root / f"submission_{number}"
        folder.mkdir(parents=True, exist_ok=True)
        for rel, content in _solutions(str(number)).items():
            (folder / rel).write_bytes(content if isinstance(content, bytes) else content.encode())
    meta = "submission_1:\n  :submitters:\n  - :name: Alice\n    :sid: '11'\nsubmission_2:\n" + _yaml_bomb()
    (root / "submission_metadata.yml").write_text(meta)
    return root


CASES: dict[str, Callable[[Path], Path]] = {
    "honest (baseline)": lambda root: _class(root, _solutions("mallory")),
    "300 KB of 1+1+...": lambda root: _class(root, {"ex05_activations.py": "x = " + "1+" * 150_000 + "1\n"}),
    "10,000 unary minus": lambda root: _class(root, {"ex05_activations.py": "x = " + "-" * 10_000 + "1\n"}),
    "120,000 x=1 lines": lambda root: _class(root, {"ex05_activations.py": "x=1\n" * 120_000}),
    "1 MB string literal": lambda root: _class(root, {"ex05_activations.py": "x = '" + "a" * 1_000_000 + "'\n"}),
    "notebook 100,000 deep": lambda root: _class(root, {"nb.ipynb": HEAD + "[" * 100_000 + "]" * 100_000 + "}"}),
    "notebook 1,000,000 cells": lambda root: _class(root, {"nb.ipynb": HEAD + "[" + ",".join(["{}"] * 10**6) + "]}"}),
    "16 MB of source (5 files)": lambda root: _class(
        root, {f"w{n}.py": "# " + "x" * (16 * 2**20 - 10) + "\n" for n in range(5)}
    ),
    "24 MB of source (3 files)": lambda root: _class(
        root, {f"w{n}.py": "# " + "x" * (8 * 2**20 - 10) + "\n" for n in range(3)}
    ),
    "12 MB in 2 files, one exercise": lambda root: _class(root, {f"part{n}.py": _defining(6) for n in range(2)}),
    "24 MB in 3 files, one exercise": lambda root: _class(root, {f"part{n}.py": _defining(8) for n in range(3)}),
    "notebooks of 16 and 8 MB": lambda root: _class(
        root,
        {
            f"nb{n}.ipynb": _notebook("def apply_sigmoid(x):\n    return x\n# " + "x" * size)
            for n, size in enumerate((16 * 2**20 - 200, 8 * 2**20 - 300))
        },
    ),
    "6 files of 99,000 tokens": lambda root: _class(root, _names(33_000)),
    "6 files of 39,000 tokens": lambda root: _class(root, _names(13_000)),
    "a .zip of 60 MB (stored)": _zipped,
    "FIFOs (folder and class)": _fifo,
    "Gradescope alias bomb": _gradescope,
}


def _build(name: str, case: Path) -> Path:
    """Case ``name``'s class, built under ``case`` in a process of its own (see ``--build``)."""
    built = subprocess.run(
        [sys.executable, __file__, "--build", name, str(case / "class")],
        capture_output=True,
        text=True,
        check=True,  # a case that cannot be built must not grade the current folder instead
    )
    return Path(built.stdout.strip())


def _read(source: Path, target: Path) -> None:
    """Pickle into ``target`` the submissions a batch would hand its grading processes for the class ``source``."""
    from grader.assignment import load_assignment
    from grader.batch import _distinct
    from grader.roster import open_roster, read_submission

    assignment = load_assignment()
    with open_roster(source) as roster:
        submissions = [read_submission(student, assignment) for student in roster.students]
    target.write_bytes(pickle.dumps(_distinct(submissions)[0]))


def grading_process(rounds: int) -> None:
    """Every case's class as it reaches grading, graded in a fresh grading process per round, interleaved."""
    scratch = Path(tempfile.mkdtemp(prefix="bench-bounds-"))
    try:
        pickles = {}
        for number, name in enumerate(CASES):
            case = scratch / str(number)
            pickles[name] = case / "submissions.pickle"
            built = _build(name, case)
            subprocess.run([sys.executable, __file__, "--read", str(built), str(pickles[name])], check=True)
            shutil.rmtree(case / "class", ignore_errors=True)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CASES}
        for round_ in range(rounds):
            for number, name in enumerate(CASES):
                runs[name].append(grade_probe(scratch / f"out-{number}-{round_}", [pickles[name]], "all"))
                row = runs[name][-1]
                figures = ", ".join(f"{key} {row[key]:.2f}" for key in FIGURES)
                print(f"round {round_} {name}: {figures}, scores {row['scores']}", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    base = runs["honest (baseline)"]
    print(f"baseline ({rounds} rounds): {describe(base)}")
    print("per case, over the baseline of the same round: median [least, most]")
    print(f"{'case':28}" + "".join(f"{title:>24}" for title in TITLES) + "  scores")
    for name, rows in runs.items():
        delta = compare(base, rows)
        print(f"{name:28}" + "".join(f"{delta[key]:>24}" for key in FIGURES) + f"  {rows[0]['scores']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--build", nargs=2, metavar=("CASE", "FOLDER"), help=argparse.SUPPRESS)
    parser.add_argument("--read", nargs=2, metavar=("CLASS", "FILE"), help=argparse.SUPPRESS)
    parser.add_argument("--grading-process", action="store_true", help="measure the grading process alone")
    parser.add_argument("--rounds", type=int, default=1, help="with --grading-process: interleaved rounds")
    options = parser.parse_args()
    if options.build:  # in a process of its own: a child's peak RSS starts from its parent's at fork
        print(CASES[options.build[0]](Path(options.build[1])))
        return
    if options.read:
        _read(Path(options.read[0]), Path(options.read[1]))
        return
    if options.grading_process:
        grading_process(options.rounds)
        return
    results = {}
    scratch = Path(tempfile.mkdtemp(prefix="bench-bounds-"))
    try:
        for name in CASES:
            case = scratch / str(len(results))
            built = _build(name, case)
            command = ["grade", str(built), "--out", str(case / "out"), "--jobs", str(options.jobs), "--force"]
            run = subprocess.run(
                [sys.executable, "-c", _PROBE, *command], capture_output=True, text=True, cwd=ROOT, timeout=600
            )
            results[name] = json.loads(run.stdout.strip().splitlines()[-1])
            shutil.rmtree(case, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    base = results["honest (baseline)"]
    print(
        f"{'case':32} {'exit':>4} {'peak MiB':>9} {'+MiB':>6} {'CPU s':>6} {'+CPU s':>7} {'tree CPU s':>10} "
        f"{'grading MiB':>11} {'+MiB':>6}"
    )
    for name, row in results.items():
        print(
            f"{name:32} {row['code']!s:>4} {row['rss_mib']:9.0f} {row['rss_mib'] - base['rss_mib']:+6.0f} "
            f"{row['cpu_s']:6.2f} {row['cpu_s'] - base['cpu_s']:+7.2f} {row['tree_cpu_s']:10.2f} "
            f"{row['engine_mib']:11.0f} {row['engine_mib'] - base['engine_mib']:+6.0f}"
        )


if __name__ == "__main__":
    main()
