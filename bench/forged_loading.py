"""Benchmark: what a student who forges "loading a module" frames costs the grader, and what it earns.

Grades, with ``grader grade --jobs 1``, a class of one student per case on
the bundled assignment: an honest copy of the reference, and copies whose
``apply_softmax`` (seven checks) first forges frames on its worker's answer
socket: two million of them before a correct answer (``flood``), around a
correct answer that computes 1.6 s of CPU per call (``slow``), and before an
endless loop (``endless``). The frames are those the grader at hand reads
(``grader.sandbox.loading`` notices, or the older pause/resume markers), as
a student would send whichever the grader honours. Prints, per case, the
CPU of the whole ``grader grade`` (grading process, zygote and workers) and
above the honest student's, and how many ``apply_softmax`` checks passed.

    python bench/forged_loading.py [--against OTHER/bin/python] [--rounds 2]
    python bench/forged_loading.py --grading-process [--rounds 5]

``--grading-process``: instead, each student is graded in a fresh grading
process of its own (``hostile_answers.grade_probe``: ``Grader.run`` on every
exercise), and the CPU and peak RSS of that process alone are printed, the
workers and the zygote excluded, over the honest student's of the same round
(median and range over the rounds).

``--against``: the same cases graded by another checkout (an interpreter of
an environment where it is installed: the zygote it starts does not inherit
``PYTHONPATH``) in interleaved rounds of the same run: on a loaded machine,
compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from batch import ROOT, children_cpu  # the scripts beside this one (their folder is on sys.path)
from hostile_answers import FIGURES, TITLES, compare, describe, grade_probe

FORGE = r"""

import os as _os, stat as _stat, struct as _struct


def _forge(*payloads, times=1):
    data = memoryview(b"".join(_struct.pack(">Q", len(p)) + p for p in payloads) * times)
    for fd in range(64):
        try:
            if _stat.S_ISSOCK(_os.fstat(fd).st_mode):
                while data:
                    data = data[_os.write(fd, data):]
        except OSError:
            pass


def _compute(seconds):
    import time
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


_CORRECT = apply_softmax


def apply_softmax(x, dim):
    {body}
"""
#: The frames each kind of grader reads: the notice of ``grader.sandbox.loading``, or pause/resume markers.
FRAMES = {
    "new": ("_forge(b'\\xff\\xffloading torch._dynamo'{times})", ""),
    "old": ("_forge(b'\\xff\\xffimport+'{times})", "_forge(b'\\xff\\xffimport-')"),
}
CASES = {
    "flood": ("{start_many}", "return _CORRECT(x, dim)"),
    "slow": ("{start}", "_compute(1.6)", "{end}", "return _CORRECT(x, dim)"),
    "endless": ("{start}", "while True:\n        pass"),
}


def build(root: Path, kind: str, flood: int) -> None:
    """One folder per case (and ``honest``), with ``kind`` of frames; ``flood`` frames in the flood."""
    start, end = FRAMES[kind]
    shutil.copytree(ROOT / "solutions", root / "honest", ignore=shutil.ignore_patterns("__pycache__"))
    for case, lines in CASES.items():
        shutil.copytree(ROOT / "solutions", root / case, ignore=shutil.ignore_patterns("__pycache__"))
        # ``flood`` frames: half as many pairs where a frame is paired with its end.
        many = start.format(times=f", times={flood}" if not end else f", b'\\xff\\xffimport-', times={flood // 2}")
        body = "\n    ".join(line for line in lines if line).format(
            start=start.format(times=""), end=end, start_many=many
        )
        target = root / case / "ex05_activations.py"
        target.write_text(target.read_text() + FORGE.replace("{body}", body))


def kind_of(python: str, env: dict[str, str]) -> str:
    probe = "import importlib.util as u; print('new' if u.find_spec('grader.sandbox.loading') else 'old')"
    return subprocess.run([python, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.strip()


def grade_one(python: str, env: dict[str, str], folder: Path, out: Path) -> tuple[float, int, int]:
    """CPU of ``grader grade`` of one student's folder; its ``apply_softmax`` checks passed and run."""
    single = out / "class"
    single.mkdir(parents=True)
    shutil.copytree(folder, single / folder.name)
    before = children_cpu()
    subprocess.run(
        [python, "-m", "grader", "grade", str(single), "--out", str(out / "out"), "--jobs", "1", "--force"],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cpu = children_cpu() - before
    result = json.loads(next((out / "out").rglob("result.json")).read_text())
    checks = [c for c in result["checks"] if c["function"] == "apply_softmax"]
    return cpu, sum(c["outcome"] == "passed" for c in checks), len(checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="PYTHON", help="also grade with this interpreter (another checkout)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--flood", type=int, default=2_000_000, help="frames the flood case sends per call")
    parser.add_argument("--grading-process", action="store_true", help="measure the grading process alone")
    args = parser.parse_args()
    if args.grading_process:
        grading_process(args.rounds, args.flood)
        return
    graders = {"this": (sys.executable, dict(os.environ))}
    if args.against:
        graders["against"] = (args.against, dict(os.environ))
    work = Path(tempfile.mkdtemp(prefix="grader-bench-forged-"))
    try:
        figures: dict[str, dict[str, list[tuple[float, int, int]]]] = {name: {} for name in graders}
        folders = {}
        for name, (python, env) in graders.items():
            folders[name] = work / name / "cases"
            folders[name].mkdir(parents=True)
            build(folders[name], kind_of(python, env), args.flood)
        for round_ in range(args.rounds):
            for name, (python, env) in graders.items():
                for case in ["honest", *CASES]:
                    out = work / name / f"run-{round_}-{case}"
                    figures[name].setdefault(case, []).append(grade_one(python, env, folders[name] / case, out))
                    cpu, passed, run = figures[name][case][-1]
                    print(f"round {round_} {name} {case}: {cpu:.2f} s, {passed} of {run} passed", flush=True)
                    shutil.rmtree(out, ignore_errors=True)
        for name, cases in figures.items():
            honest = min(cpu for cpu, _, _ in cases["honest"])
            print(f"{name}: honest student {honest:.2f} s of CPU (best of {args.rounds})")
            for case, runs in cases.items():
                cpu = min(c for c, _, _ in runs)
                passed = "/".join(f"{p} of {n}" for _, p, n in runs)
                print(f"  {case:8} {cpu:6.2f} s  (+{cpu - honest:5.2f} s)  apply_softmax checks passed: {passed}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def grading_process(rounds: int, flood: int) -> None:
    """Each case graded alone in a fresh grading process, in interleaved rounds; that process's own figures."""
    work = Path(tempfile.mkdtemp(prefix="grader-bench-forged-"))
    try:
        build(work / "cases", kind_of(sys.executable, dict(os.environ)), flood)
        cases = ["honest", *CASES]
        runs: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
        for round_ in range(rounds):
            for case in cases:
                runs[case].append(grade_probe(work / f"out-{case}-{round_}", [work / "cases" / case], "all"))
                row = runs[case][-1]
                passed, run = row["passed"][case]["apply_softmax"]
                figures = ", ".join(f"{key} {row[key]:.2f}" for key in FIGURES)
                print(f"round {round_} {case}: {figures}, apply_softmax {passed} of {run} passed", flush=True)
        print(f"honest student ({rounds} rounds): {describe(runs['honest'])}")
        print("per case, over the honest student of the same round: median [least, most]")
        print(f"{'case':<10}" + "".join(f"{title:>24}" for title in TITLES) + "  apply_softmax checks passed")
        for case in CASES:
            delta = compare(runs["honest"], runs[case])
            passed = "/".join("{} of {}".format(*r["passed"][case]["apply_softmax"]) for r in runs[case])
            print(f"{case:<10}" + "".join(f"{delta[key]:>24}" for key in FIGURES) + f"  {passed}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
