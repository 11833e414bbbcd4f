"""The command line, in-process through click's CliRunner."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import schema_errors
from junitparser import JUnitXml

from grader.assignment import Assignment
from grader.cli import cli
from grader.errors import EXIT_CODES

CORRECT = "def double(x):\n    return x + x\n\ndef shout(text):\n    return text.upper() + '!'\n"
HALF = "def double(x):\n    return x + x\n\ndef shout(text):\n    return text\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def submission(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "ex_tiny.py"
    path.write_text(source)
    return path


def test_help_lists_every_exit_code(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "--help"])
    assert result.exit_code == 0
    for code, meaning in EXIT_CODES:
        assert f"{code}  {meaning}" in result.output


def test_missing_path_is_a_usage_error(runner: CliRunner, tmp_path: Path, tiny: Assignment) -> None:
    result = runner.invoke(cli, ["check", str(tmp_path / "nope.py"), "--assignment", str(tiny.root)])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_broken_assignment_is_exit_4(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text("[assignment\n")
    result = runner.invoke(cli, ["list", "--assignment", str(tmp_path)])
    assert result.exit_code == 4
    assert "assignment.toml" in result.output


@pytest.mark.slow
def test_check_json_is_the_stable_contract(runner: CliRunner, tmp_path: Path, tiny: Assignment) -> None:
    out = tmp_path / "result.json"
    html = tmp_path / "card.html"
    result = runner.invoke(
        cli,
        [
            "check",
            str(submission(tmp_path, HALF)),
            "--assignment",
            str(tiny.root),
            "--format",
            "json",
            "--output",
            str(out),
            "--html",
            str(html),
            "--student",
            "Zoë",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert schema_errors("report", data) == []  # the file's bytes, as a reader gets them
    assert data["student"] == "Zoë"
    assert (data["score"], data["max_score"]) == (3.0, 5.0)
    keys = {"exercise", "function", "name", "outcome", "points", "max_points", "message", "hidden"}
    assert all(keys <= set(check) for check in data["checks"])
    assert {c["outcome"] for c in data["checks"]} == {"passed", "failed"}
    assert "Zoë" in html.read_text()


@pytest.mark.slow
def test_fail_under_and_ci_formats(runner: CliRunner, tmp_path: Path, tiny: Assignment) -> None:
    summary = tmp_path / "summary.md"
    gh_output = tmp_path / "github_output"
    args = [
        "check",
        str(submission(tmp_path, HALF)),
        "--assignment",
        str(tiny.root),
        "-f",
        "github",
        "-f",
        f"junit:{tmp_path / 'junit.xml'}",
        "-f",
        f"classroom:{tmp_path / 'c.txt'}",
    ]
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(gh_output)}
    passing = runner.invoke(cli, [*args, "--fail-under", "60"], env=env)
    assert passing.exit_code == 0, passing.output
    failing = runner.invoke(cli, [*args, "--fail-under", "61"], env=env)
    assert failing.exit_code == 1
    assert "below --fail-under" in failing.output
    annotations = passing.output.splitlines()
    assert len(annotations) == 2 and all(line.startswith("::error ") for line in annotations)
    assert "file=ex_tiny.py,line=4" in annotations[0]
    assert "secret" not in annotations[1] and "file=" not in annotations[1]  # the hidden check
    suites = list(JUnitXml.fromfile(str(tmp_path / "junit.xml")))
    assert sum(suite.tests for suite in suites) == 4
    assert "Score" in summary.read_text()
    line = gh_output.read_text().splitlines()[0]
    decoded = json.loads(base64.b64decode(line.removeprefix("result=")))
    assert sum(t["score"] for t in decoded["tests"]) == 3.0


def test_several_terminal_formats_are_refused(runner: CliRunner, tmp_path: Path, tiny: Assignment) -> None:
    result = runner.invoke(
        cli, ["check", str(submission(tmp_path, CORRECT)), "--assignment", str(tiny.root), "-f", "json", "-f", "text"]
    )
    assert result.exit_code == 2
    assert "only one --format" in result.output


@pytest.mark.slow
def test_list_shows_checks_and_points(runner: CliRunner, tiny: Assignment) -> None:
    result = runner.invoke(cli, ["list", "--assignment", str(tiny.root)])
    assert result.exit_code == 0, result.output
    assert "double_values" in result.output and "shout_hidden (hidden)" in result.output
    assert "4 checks, 5 points" in result.output


@pytest.mark.slow
def test_grade_writes_every_output(runner: CliRunner, tmp_path: Path, tiny: Assignment) -> None:
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    (class_dir / "alice.py").write_text(CORRECT)
    (class_dir / "bob.py").write_text(HALF)
    out = tmp_path / "out"
    result = runner.invoke(
        cli, ["grade", str(class_dir), "--out", str(out), "--assignment", str(tiny.root), "-j", "1", "-f", "junit"]
    )
    assert result.exit_code == 0, result.output
    for name in (
        "index.html",
        "grades.csv",
        "results.json",
        "junit.xml",
        "alice/report.html",
        "bob/result.json",
        "bob/junit.xml",
    ):
        assert (out / name).is_file(), name
    assert "graded 2 students" in result.output
    assert schema_errors("results", json.loads((out / "results.json").read_text())) == []
    for student in ("alice", "bob"):
        assert schema_errors("report", json.loads((out / student / "result.json").read_text())) == []


def test_doctor_names_every_layer(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["doctor"])
    assert result.exit_code == 0
    for layer in ("rlimits", "landlock", "seccomp"):
        assert layer in result.output


def test_the_command_line_imports_the_sandbox_probes_only_for_doctor() -> None:
    # Every run of the CLI (``grader grade`` of a class, too) paid for importing them.
    import subprocess
    import sys

    probes = ("grader.doctor", "grader.sandbox.isolation")
    code = f"import sys, grader.cli; print(sorted(m for m in {probes!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_assign_writes_stubs_and_notebooks(runner: CliRunner, tmp_path: Path, tiny: Assignment) -> None:
    result = runner.invoke(cli, ["assign", "--out", str(tmp_path / "handout"), "--assignment", str(tiny.root)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "handout").iterdir()) == [
        "assignment.grader",
        "ex_tiny.ipynb",
        "ex_tiny.py",
    ]


def test_a_path_with_no_exercise_is_a_usage_error(runner: CliRunner, tmp_path: Path, tiny: Assignment) -> None:
    unrelated = tmp_path / "notes.py"
    unrelated.write_text("def hello():\n    return 1\n")
    result = runner.invoke(cli, ["check", str(unrelated), "--assignment", str(tiny.root)])
    assert result.exit_code == 2
    assert "no exercise found" in result.output and "ex_tiny" in result.output
