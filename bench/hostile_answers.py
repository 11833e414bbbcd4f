"""Benchmark: what a worker's forged answers cost the grading process, against an honest student's.

A worker is the student's own process: student code can replace its answer
writer (``grader.sandbox.worker.send_frame``, reached through ``sys.modules``)
and send any bytes, or lift the worker's own bounds (``grader.codec.MAX_NODES``)
and return what an honest worker would refuse. Each case below is a submission
of ``ex05_activations`` that is correct except for one such answer. Each is
graded in a fresh grading process beside an honest student (the reference),
and the same is done with two honest students, in interleaved rounds (the honest
pair, then every case, each round); the run prints, per case, the grading
process's own peak RSS and CPU (user + sys of that process alone: the workers
and the zygote excluded), whole and within ``Grader.run`` only (its peak RSS
also as it stood when ``Grader.run`` returned, before rendering), over the
honest pair's of the same round (the median and the range over the rounds),
and the largest report file written (each student's formats and the class's
files).

Goal (issue 24): no case raises peak memory by more than 64 MiB or CPU by more
than 1 s, and no report is larger than 1 MB.

    python bench/hostile_answers.py [--cases header_bomb costly_model ...] [--rounds 5]

``bench/forged_loading.py --grading-process`` and ``bench/bounds.py
--grading-process`` measure their cases with the same probe (``grade_probe``)
and summary (``compare``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

HONEST = """
import torch
from torch import nn


def apply_sigmoid(x):
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    return torch.softmax(x, dim=dim)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
"""

FORGE = """
import json
import struct
import sys

_worker = sys.modules.get("grader.sandbox.worker")
_codec = sys.modules.get("grader.codec")


def _send(make):
    real = _worker.send_frame

    def forged(sock, payload):
        _worker.send_frame = real
        sock.sendall(make())

    _worker.send_frame = forged


def _framed(payload):
    return struct.pack(">Q", len(payload)) + payload


def _answer(facts, value=b""):
    text = json.dumps(facts).encode()
    return struct.pack(">I", len(text)) + text + value


def _unbounded():
    _codec.MAX_NODES = _codec.MAX_HEADER_BYTES = _codec.MAX_MESSAGE_BYTES = 10**12
"""

#: Each case: (what it does, the function it replaces).
CASES: dict[str, tuple[str, str]] = {
    "header_bomb": (
        "a 40 MB value description of empty lists, on every apply_sigmoid call",
        """
_HEADER = b'{"t":"list","v":[' + b"[]," * 13_000_000 + b"[]]}"
_FORGED = _framed(_answer({"status": "ok"}, b"GRC1" + struct.pack(">II", len(_HEADER), 0) + _HEADER))


def apply_sigmoid(x):
    _send(lambda: _FORGED)
    return torch.sigmoid(x)
""",
    ),
    "identity_children": (
        "199,000 nn.Identity children in binary_classifier's model (the worker's bounds lifted)",
        """
def binary_classifier(n_features):
    _unbounded()
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid(), *[nn.Identity() for _ in range(199_000)])
""",
    ),
    "identity_children_small": (
        "1,500 nn.Identity children: under the description bound, over the parts bound",
        """
def binary_classifier(n_features):
    _unbounded()
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid(), *[nn.Identity() for _ in range(1_500)])
""",
    ),
    "shared_children": (
        "25,000 references to one nn.Identity child in binary_classifier's model (the worker's bounds lifted)",
        """
def binary_classifier(n_features):
    _unbounded()
    same = nn.Identity()
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid(), *[same] * 25_000)
""",
    ),
    "empty_parameters": (
        "300,000 empty parameters and buffers on multiclass_classifier's Linear",
        """
def multiclass_classifier(n_features, n_classes):
    _unbounded()
    layer = nn.Linear(n_features, n_classes)
    for i in range(150_000):
        layer.register_parameter(f"p{i}", nn.Parameter(torch.empty(0)))
        layer.register_buffer(f"b{i}", torch.empty(0))
    return nn.Sequential(layer, nn.Softmax(dim=-1))
""",
    ),
    "large_planned_answers": (
        "24 MB tensors from every apply_sigmoid and apply_softmax call (honestly encoded, planned)",
        """
def apply_sigmoid(x):
    return torch.zeros(6 * 1024 * 1024)


def apply_softmax(x, dim):
    return torch.zeros(6 * 1024 * 1024)
""",
    ),
    "costly_model": (
        "binary_classifier returns 5,000 calls of one Linear(2048, 2048) for a check to run (100 of a block of 50)",
        """
def binary_classifier(n_features):
    block = nn.Sequential(*[nn.Linear(2048, 2048)] * 50)
    return nn.Sequential(nn.Linear(n_features, 2048), *[block] * 100, nn.Linear(2048, 1), nn.Sigmoid())
""",
    ),
    "huge_facts": (
        "apply_softmax raises with a 4 MB message, a 1 MB type name and a 4 MB traceback (forged)",
        """
def apply_softmax(x, dim):
    facts = {"status": "raised", "message": "m" * 4_000_000, "type": "T" * 1_000_000, "traceback": "t" * 4_000_000}
    _send(lambda: _framed(_answer(facts)))
    return torch.softmax(x, dim=dim)
""",
    ),
    "long_texts": (
        "apply_softmax raises with texts just under the facts bound: 600 KB of markup, 100 KB type, 300 KB of escapes",
        """
def apply_softmax(x, dim):
    facts = {"status": "raised", "message": "<b>m</b>" * 75_000, "type": "T" * 100_000,
             "bases": ["ValueError"] * 10_000, "traceback": "\\x1b[2J" * 50_000, "output": "o" * 60_000}
    _send(lambda: _framed(_answer(facts)))
    return torch.softmax(x, dim=dim)
""",
    ),
    "oversized_frame": (
        "every apply_sigmoid answer announces 120 MiB",
        """
def apply_sigmoid(x):
    _send(lambda: struct.pack(">Q", 120 * 1024 * 1024) + b"x" * 65536)
    return torch.sigmoid(x)
""",
    ),
}

#: Grades, in one grading process, the submissions named on its command line (folders, or
#: ``--pickled FILE``: a list of ``Submission`` as a batch's parent sends them) on the
#: exercises named (comma-separated, or ``all``), writes every report format, and prints
#: its own peak RSS, CPU (whole and within ``Grader.run``) and the largest file it wrote.
GRADE = """
import json, pickle, resource, sys
from pathlib import Path
from grader.assignment import load_assignment
from grader.grading import Grader
from grader.models import ClassReport
from grader.output import write_class_outputs
from grader.plugin import Job
from grader.render import REPORT_FORMATS
from grader.submission import load_submission


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


out, exercises, sources = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
assignment = load_assignment()
chosen = assignment.names if exercises == "all" else tuple(exercises.split(","))
reports = []
with Grader(assignment) as grader:
    if sources[0] == "--pickled":
        submissions = pickle.loads(Path(sources[1]).read_bytes())  # the bench's own file, as a batch sends them
    else:
        submissions = [load_submission(Path(p), assignment) for p in sources]
    before = cpu()
    grader.run([Job(s, chosen) for s in submissions], reports.append)
    run_cpu = cpu() - before
    run_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before any report is rendered
for report in reports:
    folder = out / report.student
    folder.mkdir(parents=True)
    for render, name in REPORT_FORMATS.values():
        (folder / name).write_text(render(report))
write_class_outputs(out, ClassReport(assignment=assignment.title, reports=tuple(reports)))
usage = resource.getrusage(resource.RUSAGE_SELF)
largest = max((p for p in out.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
scores = {r.student: [r.score, r.max_score] for r in reports}
passed = {r.student: {} for r in reports}  # per student and function: checks passed, checks run
for r in reports:
    for c in r.checks:
        counts = passed[r.student].setdefault(c.function, [0, 0])
        counts[0] += c.outcome == "passed"
        counts[1] += 1
print(json.dumps({"peak_mib": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime, "run_cpu_s": run_cpu,
                  "run_peak_mib": run_peak,
                  "largest": [str(largest.relative_to(out)), largest.stat().st_size], "scores": scores,
                  "passed": passed}))
"""

#: What ``grade_probe`` reports: peak RSS (MiB), CPU (s), CPU within ``Grader.run`` (s), peak RSS
#: when ``Grader.run`` returned (MiB, before any report is rendered).
FIGURES = ("peak_mib", "cpu_s", "run_cpu_s", "run_peak_mib")
#: Their column titles, as excesses over the honest run's.
TITLES = ("+peak MiB", "+CPU s", "+CPU in run s", "+peak in run MiB")


def _submission(folder: Path, case: str | None) -> Path:
    folder.mkdir()
    source = HONEST if case is None else HONEST + FORGE + CASES[case][1]
    (folder / "ex05_activations.py").write_text(source)
    return folder


def grade_probe(out: Path, students: list[Path], exercises: str = "ex05_activations") -> dict[str, Any]:
    """Grade ``students`` in a fresh grading process (see ``GRADE``); its figures.

    ``students``: folders, or one pickle of a list of ``Submission`` (``--pickled``).
    """
    sources = [str(p) for p in students]
    if len(students) == 1 and students[0].suffix == ".pickle":
        sources = ["--pickled", sources[0]]
    done = subprocess.run(
        [sys.executable, "-c", GRADE, str(out), exercises, *sources], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    shutil.rmtree(out, ignore_errors=True)
    return result


def _spread(values: list[float], sign: str = "+") -> str:
    return f"{statistics.median(values):{sign}.2f} [{min(values):{sign}.2f}, {max(values):{sign}.2f}]"


def compare(honest: list[dict[str, Any]], runs: list[dict[str, Any]]) -> dict[str, str]:
    """Per figure, the median and [least, most] of a case's excess over the honest run of the same round."""
    return {key: _spread([float(r[key]) - float(h[key]) for h, r in zip(honest, runs, strict=True)]) for key in FIGURES}


def describe(honest: list[dict[str, Any]]) -> str:
    """The honest runs' own figures: the median and [least, most] over the rounds (their noise)."""
    return ", ".join(f"{key} {_spread([float(h[key]) for h in honest], '')}" for key in FIGURES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds: the honest pair, then every case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as tmp:
        work = Path(tmp)
        honest = _submission(work / "aa_honest", None)
        other = _submission(work / "zz_honest", None)
        students = {case: _submission(work / case, case) for case in args.cases}
        pairs = {"honest": [honest, other], **{case: [honest, student] for case, student in students.items()}}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in pairs}
        for round_ in range(args.rounds):
            for name, pair in pairs.items():
                runs[name].append(grade_probe(work / f"out-{name}-{round_}", pair))
                row = runs[name][-1]
                print(f"round {round_} {name}: " + ", ".join(f"{k} {row[k]:.2f}" for k in FIGURES), flush=True)
        print(f"honest pair ({args.rounds} rounds): {describe(runs['honest'])}, largest {runs['honest'][0]['largest']}")
        print("per case, over the honest pair of the same round: median [least, most]")
        print(f"{'case':<26}" + "".join(f"{title:>24}" for title in TITLES) + "  largest file (bytes), scores")
        for case in args.cases:
            delta = compare(runs["honest"], runs[case])
            name, size = runs[case][0]["largest"]
            print(
                f"{case:<26}" + "".join(f"{delta[key]:>24}" for key in FIGURES) + "  "
                f"{name} {size:,}, {runs[case][0]['scores']}  ({CASES[case][0]})"
            )


if __name__ == "__main__":
    main()
