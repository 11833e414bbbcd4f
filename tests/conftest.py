"""Shared fixtures: a tiny assignment built under tmp_path, and grading sessions."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.assignment import Assignment, load_assignment
from grader.grading import Grader

TINY_STUB = '''
"""A tiny exercise for the grader's own tests."""


def double(x):
    """Return 2 * x for a tensor x."""
    raise NotImplementedError


def shout(text):
    """Return text upper-cased with a "!" appended."""
    raise NotImplementedError
'''

TINY_SOLUTION = '''
def double(x):
    return 2 * x


def shout(text):
    return text.upper() + "!"
'''

TINY_CHECKS = '''
import torch

from grader.assertions import assert_tensor_close
from grader.checking import check, fail


@check("double", points=2, hint="Multiply by 2.")
def check_double_values(student, reference):
    """double gives twice its input."""
    x = torch.randn(3, 4)
    assert_tensor_close(student.double(x), reference.double(x), what="double(x)")


@check("double", points=1)
def check_double_int(student, reference):
    """double works on integer tensors."""
    x = torch.arange(5)
    assert_tensor_close(student.double(x), reference.double(x), what="double(x)")


@check("shout", points=1)
def check_shout(student, reference):
    """shout upper-cases and adds '!'."""
    got = student.shout("hi")
    if got != reference.shout("hi"):
        fail(f"shout('hi'): expected 'HI!', got {got!r}")


@check("shout", points=1, hidden=True)
def check_shout_hidden(student, reference):
    """shout on a longer text."""
    text = "secret-input-xyz"
    got = student.shout(text)
    if got != reference.shout(text):
        fail(f"shout({text!r}): expected {reference.shout(text)!r}, got {got!r}")
'''


def write_assignment(root: Path, *, checks: str = TINY_CHECKS, timeout_s: float = 2.0) -> Path:
    """Write the tiny assignment under ``root`` and return its folder."""
    for folder, text in (("exercises", TINY_STUB), ("solutions", TINY_SOLUTION), ("checks", None)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        if text is not None:
            (root / folder / "ex_tiny.py").write_text(textwrap.dedent(text))
    (root / "checks" / "check_ex_tiny.py").write_text(textwrap.dedent(checks))
    (root / "assignment.toml").write_text(
        textwrap.dedent(
            f"""
            [assignment]
            title = "Tiny"
            exercises = ["ex_tiny"]

            [limits]
            timeout_s = {timeout_s}
            memory_mib = 768
            """
        )
    )
    return root


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Assignment:
    return load_assignment(write_assignment(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="session")
def tiny_grader(tiny: Assignment) -> Iterator[Grader]:
    with Grader(tiny) as grader:
        yield grader


@pytest.fixture(scope="session")
def bundled() -> Assignment:
    return load_assignment()


@pytest.fixture(scope="session")
def bundled_grader(bundled: Assignment) -> Iterator[Grader]:
    with Grader(bundled) as grader:
        yield grader
