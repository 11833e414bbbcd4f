"""Benchmark: what grading a module of the student's own class costs, against the same model as a standard one.

Grades ex05_activations three ways in one run, each submission N times with
one ``Grader``: the contract's ``nn.Sequential``; a ``LogisticRegression``
subclass that changes nothing (rebuilt here as nn.Sequential); and
subclasses with their own forward, which are run in the worker for every
call (``RemoteForward``). Reports wall time per submission (median).

    python bench/remote_modules.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

from grader.assignment import load_assignment
from grader.grading import Grader
from grader.submission import build_submission

HEAD = """
import torch
from torch import nn

def apply_sigmoid(x):
    return torch.sigmoid(x)

def apply_softmax(x, dim):
    return torch.softmax(x, dim)
"""
VARIANTS = {
    "standard nn.Sequential": """
def binary_classifier(n):
    return nn.Sequential(nn.Linear(n, 1), nn.Sigmoid())

def multiclass_classifier(n, c):
    return nn.Sequential(nn.Linear(n, c), nn.Softmax(dim=-1))
""",
    "subclass, rebuilt as its base": """
class B(nn.Sequential):
    def __init__(self, n):
        super().__init__(nn.Linear(n, 1), nn.Sigmoid())

class M(nn.Sequential):
    def __init__(self, n, c):
        super().__init__(nn.Linear(n, c), nn.Softmax(dim=-1))

binary_classifier, multiclass_classifier = B, M
""",
    "own forward, run in the worker": """
class B(nn.Sequential):
    def __init__(self, n):
        super().__init__(nn.Linear(n, 1), nn.Sigmoid())
    def forward(self, x):
        return super().forward(x)

class M(nn.Sequential):
    def __init__(self, n, c):
        super().__init__(nn.Linear(n, c), nn.Softmax(dim=-1))
    def forward(self, x):
        return super().forward(x)

binary_classifier, multiclass_classifier = B, M
""",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    options = parser.parse_args()
    assignment = load_assignment()
    with Grader(assignment) as grader:
        warm_up = build_submission(
            {"ex05_activations.py": (HEAD + VARIANTS["standard nn.Sequential"]).encode()}, assignment, name="warm-up"
        )
        grader.grade(warm_up, exercises=["ex05_activations"])  # imports of the checks and solutions, not timed
        for name, body in VARIANTS.items():
            source = (HEAD + body).encode()
            times = []
            for index in range(options.repeats):
                submission = build_submission({"ex05_activations.py": source}, assignment, name=f"s{index}")
                started = time.perf_counter()
                report = grader.grade(submission, exercises=["ex05_activations"])
                times.append(time.perf_counter() - started)
                assert report.score == report.max_score, [c.message for c in report.checks if not c.outcome.ok]
            print(f"{name:32s} {statistics.median(times) * 1000:7.1f} ms per submission (median of {len(times)})")


if __name__ == "__main__":
    main()
