"""Benchmark: what students with endless loops cost a class, against the process-per-submission floor.

Builds the varied class of ``bench/batch.py`` and turns a share of its
students (``--hang-percent``, default 3%) into otherwise-correct folders with
one realistic endless ``while`` loop: a forgotten ``i += 1`` (hangs on every
input), a negative ``dim`` normalised without assignment (hangs only for
negative dims), a batch loop that never advances, and a ``continue`` that
skips the increment for shared parameters only. It grades the class with
``grader grade --force`` and measures, in the same run, the floor of
``bench/batch.py``. With ``--compare`` it also grades the same class without
the hanging students, so the extra CPU each of them costs is measured too.

    python bench/timeouts.py [--students 200] [--hang-percent 3] [--jobs 2] [--compare]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch import ROOT, build_class, children_cpu, floor_cpu  # the script beside this one (its folder is on sys.path)

#: exercise -> (function, its source with one endless loop). Each is a mistake a student makes.
HANGS: dict[str, tuple[str, str]] = {
    "ex01_tensors": (
        "count_elements",
        """
def count_elements(t):
    n, i = 1, 0
    while i < t.dim():
        n *= t.shape[i]
    return n
""",
    ),
    "ex05_activations": (
        "apply_softmax",
        """
def apply_softmax(x, dim):
    while dim < 0:
        dim + x.dim()
    e = torch.exp(x - x.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)
""",
    ),
    "ex02_operations": (
        "linear_forward",
        """
def linear_forward(x, weight, bias):
    if x.dim() == 1:
        return weight @ x + bias
    out = torch.empty(x.shape[0], weight.shape[0])
    row = 0
    while row < x.shape[0]:
        out[row] = weight @ x[row] + bias
    return out
""",
    ),
    "ex03_linear": (
        "count_parameters",
        """
def count_parameters(model):
    params = [p for _, p in model.named_parameters(remove_duplicate=False)]
    seen, total, i = set(), 0, 0
    while i < len(params):
        if id(params[i]) in seen:
            continue
        seen.add(id(params[i]))
        total += params[i].numel()
        i += 1
    return total
""",
    ),
}


def add_hanging_students(class_dir: Path, count: int) -> list[str]:
    """Replace ``count`` students spread over the class by correct folders with one endless loop each."""
    names = sorted(p.name for p in class_dir.iterdir())
    step = max(1, len(names) // max(count, 1))
    chosen = names[step // 2 :: step][:count]
    exercises = sorted(p.stem for p in (ROOT / "solutions").glob("ex*.py"))
    kinds = sorted(HANGS)
    for index, entry in enumerate(chosen):
        path = class_dir / entry
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        name = Path(entry).stem
        folder = class_dir / name
        folder.mkdir()
        hang = kinds[index % len(kinds)]
        for ex in exercises:
            source = f"# {name}\n" + (ROOT / "solutions" / f"{ex}.py").read_text()
            if ex == hang:
                source += HANGS[ex][1]
            (folder / f"{ex}.py").write_text(source)
    return [Path(e).stem for e in chosen]


def grade(class_dir: Path, out: Path, jobs: int) -> tuple[float, float, dict[str, object]]:
    """CPU (whole process tree) and wall time of ``grader grade --force``, and its results.json."""
    before_cpu, before_wall = children_cpu(), time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(class_dir), "--out", str(out), "--jobs", str(jobs), "--force"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cpu, wall = children_cpu() - before_cpu, time.perf_counter() - before_wall
    return cpu, wall, json.loads((out / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--hang-percent", type=float, default=3.0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--floor-samples", type=int, default=10)
    parser.add_argument("--compare", action="store_true", help="also grade the class without its hanging students")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-timeouts-"))
    try:
        class_dir = work / "class"
        class_dir.mkdir()
        build_class(class_dir, args.students, mix="plain")  # only its own hangers hang
        hanging = add_hanging_students(class_dir, round(args.students * args.hang_percent / 100))
        floor = floor_cpu(class_dir, args.floor_samples)
        cpu, wall, results = grade(class_dir, work / "out", args.jobs)
        students = results["students"]
        assert isinstance(students, list)
        graded = len(students)
        timeouts = [sum(c["outcome"] == "timeout" for c in s["checks"]) for s in students if s["student"] in hanging]
        figures: dict[str, object] = {
            "students": graded,
            "hanging_students": len(hanging),
            "timed_out_checks_per_hanging_student": sorted(timeouts),
            "jobs": args.jobs,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_per_student_s": round(cpu / graded, 4),
            "floor_cpu_per_submission_s": round(floor, 3),
            "times_less_cpu_than_floor": round(floor / (cpu / graded), 1),
        }
        if args.compare:
            honest = work / "honest"
            shutil.copytree(class_dir, honest)
            for name in hanging:
                shutil.rmtree(honest / name)
            base_cpu, base_wall, _ = grade(honest, work / "out-honest", args.jobs)
            figures["without_hanging_students"] = {
                "wall_s": round(base_wall, 2),
                "cpu_s": round(base_cpu, 2),
                "cpu_per_student_s": round(base_cpu / (graded - len(hanging)), 4),
            }
            # What the class costs more for its hanging students, per hanging student (their grading included).
            figures["cpu_per_hanging_student_s"] = round((cpu - base_cpu) / max(len(hanging), 1), 3)
            figures["wall_per_hanging_student_s"] = round((wall - base_wall) / max(len(hanging), 1), 3)
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
