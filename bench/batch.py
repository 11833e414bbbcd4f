"""Benchmark: CPU per submission of `grader grade` against the floor of any process-per-submission grader.

Builds a class of N varied submissions (full solutions, partial folders,
single files with plausible mistakes, notebooks, untouched stubs), grades it
with `grader grade --force`, and measures, in the same run, what a fresh
`python` that only imports torch and the submission costs (the least any
grader that starts one process per submission must pay). CPU is user+sys of
the whole process tree, read from RUSAGE_CHILDREN.

Every honest student's files carry a helper of their own, so that, as in a
real class, only copies look alike; ``--mix realistic`` (the default) also
makes 2% of the students hang (an endless ``while`` loop in ``apply_softmax``)
and 5% hand in the very same copy of the reference. Then the same class is
graded again with every student cached, and the run reports the wall time of
both, the size of the class pages, the number of similarity clusters and the
peak memory (max RSS) of the CLI process itself. ``--mix distinct`` is the
realistic mix with no two files alike byte for byte, as a real class hands
in: the copies carry their student's name, and every file has its functions
in an order and with blank lines of its own (issue 27). Each run also splits
its CPU by phase: the CLI process (reading, hashing, similarity, rendering,
writing), the zygote, the grading processes (pytest, checks, memo) and the
workers (fork, import of the student's modules, calls).

    python bench/batch.py [--students 200 2000 10000] [--jobs 2] [--floor-samples 10] [--mix realistic|plain|distinct]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
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


HANG = """

def apply_softmax(x, dim):
    total = x.exp().sum(dim=dim, keepdim=True)
    while total.max() > 0:
        total = total * 1.0
    return x.exp() / total
"""


def own_helper(name: str) -> str:
    """A helper only this student wrote: enough code of their own that honest students never look alike."""
    tag = name.replace("student", "s")
    return (
        f"\n\ndef _tally_{tag}(values, weight={len(name)}):\n"
        f"    total_{tag} = 0\n    seen_{tag} = []\n"
        f"    for item_{tag} in values:\n        seen_{tag}.append(item_{tag} * weight)\n"
        f"        total_{tag} = total_{tag} + seen_{tag}[-1]\n"
        f"    return total_{tag}, len(seen_{tag}), max(seen_{tag}, default=0)\n"
    )


def reworded(source: str, seed: int) -> str:
    """``source`` with bytes of its own: its functions in another order, other blank lines between them.

    What real students' files differ by beside their answers. The order is
    kept where it is the meaning: a function defined twice, or statements
    between the functions (a mutant's ``apply_sigmoid = apply_sigmoid__x``).
    """
    rng = random.Random(seed)
    lines = source.splitlines(keepends=True)
    body = ast.parse(source).body
    first = next((k for k, node in enumerate(body) if isinstance(node, ast.FunctionDef)), len(body))
    defs = body[first:]
    names = [node.name for node in defs if isinstance(node, ast.FunctionDef)]
    if not defs or len(names) != len(defs) or len(set(names)) != len(names):
        return source + "\n" * rng.randint(0, 2)
    order = list(defs)
    rng.shuffle(order)

    def start(node: ast.stmt) -> int:
        decorators = getattr(node, "decorator_list", [])
        return (decorators[0].lineno if decorators else node.lineno) - 1

    head = "".join(lines[: start(defs[0])]).rstrip() + "\n"
    blocks = ["".join(lines[start(node) : node.end_lineno]).rstrip() + "\n" for node in order]
    return head + "".join("\n" * rng.randint(2, 3) + block for block in blocks)


def build_class(root: Path, students: int, *, mix: str = "realistic") -> None:
    """The class of ``mix``: ``realistic`` (hangs and byte-identical copies), ``plain``, or ``distinct``
    (``realistic`` with every file its own bytes: the copies carry their student's name, and every
    file's functions are in an order and with blank lines of its own)."""
    if mix == "distinct":
        build_class(root, students, mix="realistic")
        for i, path in enumerate(sorted(root.rglob("*.py"))):
            path.write_text(f"# {path.parent.name}/{path.name}\n" + reworded(path.read_text(), i))
        return
    exercises = sorted(p.stem for p in (ROOT / "solutions").glob("ex*.py"))
    for i in range(students):
        kind = i % 5
        name = f"student{i:05d}"
        marker = f"# {name}\n"
        mine = own_helper(name)
        if mix == "realistic" and i % 50 == 7:  # 2%: full solutions, but apply_softmax never returns
            folder = root / name
            folder.mkdir()
            for ex in exercises:
                extra = HANG if ex == "ex05_activations" else ""
                (folder / f"{ex}.py").write_text(marker + (ROOT / "solutions" / f"{ex}.py").read_text() + mine + extra)
        elif mix == "realistic" and i % 20 == 3:  # 5%: the same copy of the reference, byte for byte
            shutil.copytree(ROOT / "solutions", root / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif kind == 0:  # full marks, a folder
            folder = root / name
            folder.mkdir()
            for ex in exercises:
                (folder / f"{ex}.py").write_text(marker + (ROOT / "solutions" / f"{ex}.py").read_text() + mine)
        elif kind == 1:  # a folder with one mistake per exercise
            folder = root / name
            folder.mkdir()
            for ex in exercises:
                (folder / f"{ex}.py").write_text(marker + (mutant_source(ex, i) or "") + mine)
        elif kind == 2:  # a single file for one exercise
            ex = exercises[i % len(exercises)]
            (root / f"{name}.py").write_text(marker + (ROOT / "solutions" / f"{ex}.py").read_text() + mine)
        elif kind == 3:  # a notebook with two exercises, magics and a failing plot cell
            cells = [new_markdown_cell(f"# {name}"), new_code_cell("%matplotlib inline\nimport torch")]
            for ex in exercises[(i // 5) % 5 : (i // 5) % 5 + 2]:
                cells.append(new_code_cell((ROOT / "solutions" / f"{ex}.py").read_text() + mine))
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


#: Runs the CLI in this interpreter and, at its exit, writes its own peak RSS (KiB) to argv[1].
CLI_WITH_PEAK = """
import atexit, json, os, resource, sys
pid, path = os.getpid(), sys.argv[1]
def peak():
    if os.getpid() == pid:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(path, "w") as f:
            json.dump({"peak_kib": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}, f)
atexit.register(peak)
sys.argv = ["grader", *sys.argv[2:]]
from grader.cli import main
main()
"""


def run_cli(args: list[str], peak_file: Path) -> tuple[float, float, int, dict[str, float]]:
    """Wall time, CPU of the whole process tree, the CLI process's own peak RSS (MiB), and the CPU by phase.

    Phases: the CLI process itself (reading, hashing, similarity, rendering,
    writing: its own rusage), the zygote and the grading processes (each
    sampled from /proc every 10 ms, by the names they give themselves), and
    the workers: the rest of the tree (exact, from RUSAGE_CHILDREN; a sample
    misses at most 10 ms of each long-lived process).
    """
    sampler = _PhaseSampler()
    before_cpu, before_wall = children_cpu(), time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", CLI_WITH_PEAK, str(peak_file), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sampler.follow(process)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, args)
    wall, cpu = time.perf_counter() - before_wall, children_cpu() - before_cpu
    own = json.loads(peak_file.read_text())
    phases = {"cli": own["cpu_s"], "zygote": sampler.total("grader-zygote"), "grading": sampler.total("grader-engine")}
    phases["workers"] = max(cpu - sum(phases.values()), 0.0)
    return wall, cpu, own["peak_kib"] // 1024, phases


class _PhaseSampler:
    """The CPU of each zygote and grading process under a CLI run, read from /proc until the run ends."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, float]] = {}

    def follow(self, process: subprocess.Popen[bytes]) -> None:
        while process.poll() is None:
            for pid in self._descendants(process.pid):
                found = self._stat(pid)
                if found is not None and found[0] in ("grader-zygote", "grader-engine"):
                    self.seen[pid] = found
            time.sleep(0.01)

    def total(self, name: str) -> float:
        return sum(cpu for kind, cpu in self.seen.values() if kind == name)

    @staticmethod
    def _descendants(pid: int) -> list[int]:
        """Children of the CLI, then theirs: the zygote, its workers and first grading process, then the others.

        The first grading process forks the others: a fork whose parent died is init's, and missed here.
        """
        found: list[int] = []
        queue = [pid]
        while queue:
            parent = queue.pop()
            try:
                with open(f"/proc/{parent}/task/{parent}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found.extend(children)
            queue.extend(children)
        return found

    def _stat(self, pid: int) -> tuple[str, float] | None:
        try:
            with open(f"/proc/{pid}/stat") as f:
                text = f.read()
        except OSError:
            return None
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        return name, (int(fields[11]) + int(fields[12])) / self.TICK  # utime, stime: their own, not their children's


def page_sizes(out: Path) -> dict[str, int]:
    sizes = {name: (out / name).stat().st_size for name in ("index.html", "results.json", "junit.xml", "grades.csv")}
    pages = [p.stat().st_size for p in [*out.glob("students-*.html"), out / "similar.html"] if p.exists()]
    sizes["largest_other_page"] = max(pages, default=0)
    sizes["student_pages"] = len(list(out.glob("students-*.html")))
    return sizes


def scale_run(work: Path, students: int, jobs: int, mix: str, floor: float) -> dict[str, object]:
    class_dir = work / f"class{students}"
    class_dir.mkdir()
    build_class(class_dir, students, mix=mix)
    out = work / f"out{students}"
    args = ["grade", str(class_dir), "--out", str(out), "--jobs", str(jobs)]
    wall, cpu, peak, phases = run_cli([*args, "--force"], work / "peak")
    results = json.loads((out / "results.json").read_text())
    graded = len(results["students"])
    cached_wall, _, cached_peak, _ = run_cli(args, work / "peak")
    return {
        "students": graded,
        "mix": mix,
        "jobs": jobs,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_per_submission_s": round(cpu / graded, 4),
        "floor_cpu_per_submission_s": round(floor, 3),
        "times_less_cpu_than_floor": round(floor / (cpu / graded), 1),
        "cpu_per_submission_by_phase_s": {phase: round(value / graded, 4) for phase, value in phases.items()},
        "cpu_share_by_phase": {phase: round(value / cpu, 3) for phase, value in phases.items()},
        "rerun_all_cached_wall_s": round(cached_wall, 2),
        "rerun_share_of_cold_wall": round(cached_wall / wall, 4),
        "cli_peak_rss_mib": peak,
        "cli_peak_rss_mib_rerun": cached_peak,
        "similar_entries": len(results["similar"]),
        "largest_cluster": max((len(c["students"]) for c in results["similar"]), default=0),
        "bytes": page_sizes(out),
        "checks_per_student": len(results["students"][0]["checks"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--students", type=int, nargs="+", default=[200], help="class sizes to run, e.g. 200 2000 10000"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--floor-samples", type=int, default=10)
    parser.add_argument("--mix", choices=["realistic", "plain", "distinct"], default="realistic")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the classes and reports (printed) for a look")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    try:
        floor_dir = work / "floor"
        floor_dir.mkdir()
        build_class(floor_dir, max(5 * args.floor_samples, 5), mix="plain")
        floor = floor_cpu(floor_dir, args.floor_samples)
        figures = []
        for students in args.students:
            figures.append(scale_run(work, students, args.jobs, args.mix, floor))
            print(json.dumps(figures[-1], indent=2), flush=True)
            if args.json:
                args.json.write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
