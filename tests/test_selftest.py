"""``grader selftest`` through the CLI: the bundled checks pass the reference, reject the stubs, catch every mutant."""

from __future__ import annotations

import ast
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from grader.assignment import Assignment, bundled_assignment_path
from grader.cli import cli

pytestmark = pytest.mark.slow

#: The functions EXERCISES.md asks for: 4 + 3 + 3 + 3 + 4 + 2.
EXPECTED_FUNCTIONS = 19


def run_selftest(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    output = tmp_path / "selftest.json"
    result = CliRunner().invoke(cli, ["selftest", "--format", "json", "--output", str(output), *args])
    assert output.is_file(), result.output
    return result.exit_code, json.loads(output.read_text())


def test_bundled_assignment_selftest(tmp_path: Path, bundled: Assignment) -> None:
    code, data = run_selftest(tmp_path)
    assert code == 0
    assert data["ok"] is True
    assert data["reference"]["failures"] == []
    assert data["stubs"]["failures"] == []
    assert data["problems"] == []
    assert data["uncaught"] == []
    assert data["checks"] > 0
    mutants = data["mutants"]
    assert all(m["caught"] and m["caught_by"] for m in mutants)

    functions = {(e.name, f) for e in bundled.exercises for f in e.functions}
    assert len(functions) == EXPECTED_FUNCTIONS
    per_function = Counter((m["exercise"], m["function"]) for m in mutants)
    thin = {key: per_function[key] for key in functions if per_function[key] < 2}
    assert not thin, f"functions with fewer than 2 mutants: {thin}"
    assert set(per_function) == functions

    checks_of = _checks_by_function(bundled)
    for mutant in mutants:
        own = checks_of[(mutant["exercise"], mutant["function"])]
        assert set(mutant["caught_by"]) <= own, mutant
        assert mutant["name"].startswith(mutant["function"] + "__")


def _checks_by_function(assignment: Assignment) -> dict[tuple[str, str], set[str]]:
    """(exercise, function) -> names of the checks registered for it, read from the check files."""
    found: dict[tuple[str, str], set[str]] = {}
    for exercise in assignment.exercises:
        tree = ast.parse(exercise.checks.read_text())
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("check_"):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and getattr(decorator.func, "id", "") == "check"
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    key = (exercise.name, str(decorator.args[0].value))
                    found.setdefault(key, set()).add(node.name.removeprefix("check_"))
    return found


def broken_copy(tmp_path: Path) -> Path:
    """The bundled assignment, trimmed to ex05, with one mutant made identical to the reference."""
    source = bundled_assignment_path()
    root = tmp_path / "assignment"
    for rel in (
        "exercises/ex05_activations.py",
        "solutions/ex05_activations.py",
        "checks/check_ex05_activations.py",
        "checks/mutants/ex05_activations.py",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, root / rel)
    manifest = (source / "assignment.toml").read_text()
    first_line = next(line for line in manifest.splitlines() if line.startswith("exercises"))
    (root / "assignment.toml").write_text(manifest.replace(first_line, 'exercises = ["ex05_activations"]'))
    mutants = root / "checks" / "mutants" / "ex05_activations.py"
    text = mutants.read_text()
    wrong = "def apply_sigmoid__tanh(x):\n    return torch.tanh(x)\n"
    assert wrong in text
    mutants.write_text(text.replace(wrong, "def apply_sigmoid__tanh(x):\n    return torch.sigmoid(x)\n"))
    return root


def test_a_mutant_identical_to_the_reference_fails_selftest(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    code, data = run_selftest(tmp_path, "--assignment", str(root))
    assert code == 4
    assert data["ok"] is False
    assert data["uncaught"] == ["apply_sigmoid__tanh"]
    (entry,) = [m for m in data["mutants"] if m["name"] == "apply_sigmoid__tanh"]
    assert entry == {
        "exercise": "ex05_activations",
        "function": "apply_sigmoid",
        "name": "apply_sigmoid__tanh",
        "caught": False,
        "caught_by": [],
    }
    assert data["reference"]["failures"] == [] and data["stubs"]["failures"] == []
    assert all(m["caught"] for m in data["mutants"] if m["name"] != "apply_sigmoid__tanh")
