"""Teachers author assignments: ``new_exercise`` scaffolds, selftest names what is broken, the example passes."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.assignment import load_assignment
from grader.errors import AssignmentError, UsageError
from grader.grading import Grader
from grader.scaffold import add_to_manifest, new_exercise
from grader.selftest import SelftestResult, render_selftest, selftest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "losses"


# --------------------------------------------------------------------------- scaffolding, no sandbox


def test_new_exercise_bootstraps_an_assignment(tmp_path: Path) -> None:
    root = tmp_path / "course"
    written = new_exercise(root, "ex01_scale", title="Scaling tensors")
    assert {p.relative_to(root).as_posix() for p in written} == {
        "exercises/ex01_scale.py",
        "solutions/ex01_scale.py",
        "checks/check_ex01_scale.py",
        "checks/mutants/ex01_scale.py",
        "assignment.toml",
    }
    new_exercise(root, "ex02_more")
    assignment = load_assignment(root)
    assert assignment.names == ("ex01_scale", "ex02_more")
    assert assignment.exercise("ex01_scale").title == "Scaling tensors"
    assert assignment.exercise("ex01_scale").functions == ("scale",)


def test_new_exercise_keeps_comments_and_layout(tmp_path: Path) -> None:
    manifest = tmp_path / "assignment.toml"
    manifest.write_text(
        '# my course\n[assignment]\ntitle = "Mine"\nexercises = [\n    "a",  # the first ]\n    "b"\n]\n'
        "hidden = []  # none yet\n\n[limits]\ntimeout_s = 3\n"
    )
    for name in ("a", "b"):
        for folder in ("exercises", "solutions"):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / f"{name}.py").write_text("")
    new_exercise(tmp_path, "c_new")
    text = manifest.read_text()
    assert "# my course" in text and "# the first ]" in text and "# none yet" in text
    data = tomllib.loads(text)
    assert data["assignment"]["exercises"] == ["a", "b", "c_new"]
    assert data["limits"] == {"timeout_s": 3}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ["n"]),
        ("x = 1\n", ["n"]),
        ('[assignment]\ntitle = "T"\n', ["n"]),
        ("[assignment]\nexercises = []\n", ["n"]),
        ("[assignment]\nexercises = ['a]', \"b\"]  # c\n", ["a]", "b", "n"]),
        ('[assignment]\nexercises = [\n  "a",\n  "b",\n]\n[limits]\nt = 1\n', ["a", "b", "n"]),
    ],
)
def test_add_to_manifest_appends_to_the_list(text: str, expected: list[str]) -> None:
    data = tomllib.loads(add_to_manifest(text, "n"))
    assert data["assignment"]["exercises"] == expected
    assert {k: v for k, v in data.items() if k != "assignment"} == {
        k: v for k, v in tomllib.loads(text).items() if k != "assignment"
    }


@pytest.mark.parametrize("name", ["1st", "has-dash", "class", "", "torch", "os"])
def test_new_exercise_refuses_bad_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="exercise name"):
        new_exercise(tmp_path, name)
    assert not any(tmp_path.iterdir())


def test_new_exercise_refuses_to_overwrite(tmp_path: Path) -> None:
    new_exercise(tmp_path, "ex01")
    before = (tmp_path / "assignment.toml").read_text()
    (tmp_path / "exercises" / "ex02.py").parent.mkdir(exist_ok=True)
    (tmp_path / "exercises" / "ex02.py").write_text("# mine\n")
    with pytest.raises(UsageError, match=r"refusing to overwrite .*ex02\.py"):
        new_exercise(tmp_path, "ex02")
    with pytest.raises(UsageError, match="refusing to overwrite"):
        new_exercise(tmp_path, "ex01")
    assert (tmp_path / "exercises" / "ex02.py").read_text() == "# mine\n"
    assert (tmp_path / "assignment.toml").read_text() == before
    assert not (tmp_path / "solutions" / "ex02.py").exists()


def test_new_exercise_refuses_a_listed_name(tmp_path: Path) -> None:
    (tmp_path / "assignment.toml").write_text('[assignment]\nexercises = ["ex09"]\n')
    with pytest.raises(UsageError, match="already listed"):
        new_exercise(tmp_path, "ex09")
    assert not (tmp_path / "exercises").exists()


# --------------------------------------------------------------------------- broken manifests and folders


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    new_exercise(tmp_path, "ex01")
    manifest = tmp_path / "assignment.toml"
    manifest.write_text('[assignment]\ntitle = "unterminated\nexercises = ["ex01"]\n')
    with pytest.raises(AssignmentError) as info:
        load_assignment(tmp_path)
    assert str(manifest) in info.value.message
    assert "line 2" in info.value.message


def test_missing_stub_is_named(tmp_path: Path) -> None:
    new_exercise(tmp_path, "ex01")
    stub = tmp_path / "exercises" / "ex01.py"
    stub.unlink()
    with pytest.raises(AssignmentError) as info:
        load_assignment(tmp_path)
    assert "stub" in info.value.message
    assert str(stub) in info.value.message


def test_stub_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    new_exercise(tmp_path, "ex01")
    stub = tmp_path / "exercises" / "ex01.py"
    stub.write_text('"""Title."""\n\ndef broken(:\n    pass\n')
    with pytest.raises(AssignmentError, match=r"ex01\.py, line 3"):
        load_assignment(tmp_path)


# --------------------------------------------------------------------------- selftest through the sandbox


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scaffolded")
    new_exercise(root, "ex01_scale", title="Scaling tensors")
    new_exercise(root, "ex02_scale_again")
    return root


@pytest.mark.slow
def test_scaffold_passes_selftest_out_of_the_box(scaffolded: Path) -> None:
    assignment = load_assignment(scaffolded)
    with Grader(assignment) as grader:
        result = selftest(assignment, grader)
    assert result.ok, render_selftest(result)
    assert result.checks == 2
    assert [m.mutant.name for m in result.mutants] == ["scale__adds", "scale__adds"]


@pytest.fixture(scope="module")
def broken_result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SelftestResult]:
    """One assignment, one grading session: ex01's solution raises, ex02's check raises on the reference.

    Its exercise names differ from ``scaffolded``'s on purpose: pytest caches an
    imported checks module by name, so a second session in this process would
    otherwise run the first assignment's checks.
    """
    root = tmp_path_factory.mktemp("broken")
    new_exercise(root, "ex01_bad_solution")
    new_exercise(root, "ex02_bad_check")
    solution = root / "solutions" / "ex01_bad_solution.py"
    solution.write_text(solution.read_text().replace("return x * factor", 'raise RuntimeError("solution is broken")'))
    checks = root / "checks" / "check_ex02_bad_check.py"
    checks.write_text(checks.read_text().replace("    factor = 2.5\n", '    factor = 2.5\n    {}["no such key"]\n'))
    assignment = load_assignment(root)
    with Grader(assignment) as grader:
        yield selftest(assignment, grader)


@pytest.mark.slow
def test_selftest_names_a_broken_solution(broken_result: SelftestResult) -> None:
    assert not broken_result.ok
    (failure,) = [f for f in broken_result.reference_failures if f.startswith("ex01_bad_solution::")]
    assert failure.startswith("ex01_bad_solution::scale_values (checks/check_ex01_bad_solution.py, line 17)")
    assert "RuntimeError: solution is broken at solutions/ex01_bad_solution.py, line 7" in failure
    assert "NOT PASSING on the reference: ex01_bad_solution::scale_values" in render_selftest(broken_result)


@pytest.mark.slow
def test_selftest_names_a_check_that_raises_on_the_reference(broken_result: SelftestResult) -> None:
    (failure,) = [f for f in broken_result.reference_failures if f.startswith("ex02_bad_check::")]
    assert failure.startswith("ex02_bad_check::scale_values (checks/check_ex02_bad_check.py, line 17)")
    assert "KeyError: 'no such key' at checks/check_ex02_bad_check.py, line 21" in failure


@pytest.mark.slow
def test_example_losses_assignment_passes_selftest() -> None:
    assignment = load_assignment(EXAMPLE)
    assert assignment.title == "Losses, gradients and one optimisation step"
    assert "lx02_gradients::loss_gradients_deeper_model" in assignment.hidden
    with Grader(assignment) as grader:
        result = selftest(assignment, grader)
    assert result.ok, render_selftest(result)
    assert result.checks >= 3 * sum(len(e.functions) for e in assignment.exercises)
    for exercise in assignment.exercises:
        for function in exercise.functions:
            assert sum(m.mutant.function == function for m in result.mutants) >= 2, function


@pytest.mark.slow
def test_example_losses_assignment_end_to_end(tmp_path: Path) -> None:
    """check, grade, assign and list work on the example assignment with no grader change."""
    from click.testing import CliRunner

    from grader.cli import cli

    example = Path(__file__).resolve().parent.parent / "examples" / "losses"
    runner = CliRunner()
    out = tmp_path / "report"
    graded = runner.invoke(cli, ["grade", str(example / "class"), "--assignment", str(example), "--out", str(out)])
    assert graded.exit_code == 0, graded.output
    scores = {s["student"]: s["percent"] for s in json.loads((out / "results.json").read_text())["students"]}
    assert scores["ana"] == 100.0 and scores["cy"] == 0.0 and 0 < scores["bo"] < 100
    checked = runner.invoke(cli, ["check", str(example / "class" / "ana"), "--assignment", str(example), "-f", "json"])
    assert checked.exit_code == 0 and json.loads(checked.output)["percent"] == 100.0
    handout = runner.invoke(cli, ["assign", "--assignment", str(example), "--out", str(tmp_path / "handout")])
    assert handout.exit_code == 0
    assert len(list((tmp_path / "handout").glob("*.ipynb"))) == len(list((example / "exercises").glob("*.py")))
    listed = runner.invoke(cli, ["list", "--assignment", str(example)])
    assert listed.exit_code == 0 and "(hidden)" in listed.output
