"""grader: a fast, sandboxed autograder for PyTorch fundamentals exercises.

The public API is loaded lazily (PEP 562) so that the sandbox's zygote, which
imports ``grader.sandbox``, never pulls in pytest, the checks or Jinja2.

    from grader import Grader, load_assignment, load_submission
    assignment = load_assignment()
    with Grader(assignment) as g:
        report = g.grade(load_submission(Path("ex05_activations.py"), assignment))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "Grader": "grader.grading",
    "grade": "grader.grading",
    "load_assignment": "grader.assignment",
    "Assignment": "grader.assignment",
    "load_submission": "grader.submission",
    "Submission": "grader.submission",
    "Report": "grader.models",
    "CheckResult": "grader.models",
    "Outcome": "grader.models",
    "check": "grader.checking",
    "GraderError": "grader.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
