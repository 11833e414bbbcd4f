"""Benchmark: CPU per submission of `grader grade` against the floor of any process-per-submission grader.

Builds a class of N varied submissions (full solutions, partial folders,
single files with plausible mistakes, notebooks, untouched stubs), grades it
with `grader grade --force`, and measures, in the same run, what a fresh
`python` that only imports torch and the submission costs (the least any
grader that starts one process per submission must pay). CPU is user+sys of
the whole process tree, read from RUSAGE_CHILDREN.

    python bench/batch.py [--students 200] [--jobs 2] [--floor-samples 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def mutant_source(exercise: str, index: int) -> str | None:
    """The reference with one function swapped for a mutant (a plausible wrong answer)."""
    mutants = (ROOT / "checks" / "mutants" / f"{exercise}.py").read_text()
    names = [line[4:].split("(")[0] for line in mutants.splitlines() if line.startswith("def ") and "__" in line]
    if not names:
        return None
    name = names[index % len(names)]
    solution = (ROOT / "solutions" / f"{exercise}.py").read_text()
    return f"{solution}\n\n{mutants}\n\n{name.split('__')[0]} = {name}\n"


def build_class(root: Path, students: int) -> None:
    exercises = sorted(p.stem for p in (ROOT / "solutions").glob("ex*.py"))
    for i in range(students):
        kind = i % 5
        name = f"student{i:03d}"
        marker = f"# {name}\n"
        if kind == 0:  # full marks, a folder
            folder = root / name
            folder.mkdir()
            for ex in exercises:
                (folder / f"{ex}.py").write_text(marker + (ROOT / "solutions" / f"{ex}.py").read_text())
        elif kind == 1:  # a folder with one mistake per exercise
            folder = root / name
            folder.mkdir()
            for ex in exercises:
                (folder / f"{ex}.py").write_text(marker + (mutant_source(ex, i) or ""))
        elif kind == 2:  # a single file for one exercise
            ex = exercises[i % len(exercises)]
            (root / f"{name}.py").write_text(marker + (ROOT / "solutions" / f"{ex}.py").read_text())
        elif kind == 3:  # a notebook with two exercises, magics and a failing plot cell
            cells = [new_markdown_cell(f"# {name}"), new_code_cell("%matplotlib inline\nimport torch")]
            for ex in exercises[(i // 5) % 5 : (i // 5) % 5 + 2]:
                cells.append(new_code_cell((ROOT / "solutions" / f"{ex}.py").read_text()))
            cells.append(new_code_cell("plt.plot(losses)"))
            nbformat.write(new_notebook(cells=cells), root / f"{name}.ipynb")
        else:  # the untouched hand-out
            folder = root / name
            folder.mkdir()
            for ex in exercises:
                (folder / f"{ex}.py").write_text(marker + (ROOT / "exercises" / f"{ex}.py").read_text())


FLOOR_SCRIPT = """
import importlib, sys, torch
sys.path.insert(0, sys.argv[1])
for name in sys.argv[2:]:
    importlib.import_module(name)
"""


def floor_cpu(class_dir: Path, samples: int) -> float:
    """Mean CPU of a fresh `python` importing torch and every module of a submission, over some submissions."""
    folders = sorted(p for p in class_dir.iterdir() if p.is_dir())[:samples]
    total = 0.0
    for folder in folders:
        modules = sorted(p.stem for p in folder.glob("*.py"))
        before = children_cpu()
        subprocess.run([sys.executable, "-c", FLOOR_SCRIPT, str(folder), *modules], check=True)
        total += children_cpu() - before
    return total / len(folders)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--floor-samples", type=int, default=10)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    try:
        class_dir = work / "class"
        class_dir.mkdir()
        build_class(class_dir, args.students)
        floor = floor_cpu(class_dir, args.floor_samples)

        before_cpu, before_wall = children_cpu(), time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(class_dir), "--out", str(work / "out"),
             "--jobs", str(args.jobs), "--force"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cpu = children_cpu() - before_cpu
        wall = time.perf_counter() - before_wall
        results = json.loads((work / "out" / "results.json").read_text())
        graded = len(results["students"])

        before_cpu, before_wall = children_cpu(), time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grader", "grade", str(class_dir), "--out", str(work / "out"),
             "--jobs", str(args.jobs)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cached_wall = time.perf_counter() - before_wall

        figures = {
            "students": graded,
            "jobs": args.jobs,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "cpu_per_submission_s": round(cpu / graded, 4),
            "floor_cpu_per_submission_s": round(floor, 3),
            "times_less_cpu_than_floor": round(floor / (cpu / graded), 1),
            "rerun_all_cached_wall_s": round(cached_wall, 2),
            "checks_per_student": len(results["students"][0]["checks"]),
        }
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
