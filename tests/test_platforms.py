"""Tests for ``grader autograde``: each platform's layout in, its format out, the score of ``grader check``."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT, write_assignment
from test_render_platforms import PRAIRIELEARN_SCHEMA, read_autoresult

from grader.assignment import Assignment
from grader.cli import cli
from grader.platforms import PLATFORMS, autograde

CORRECT = "def double(x):\n    return x + x\n\ndef shout(text):\n    return text.upper() + '!'\n"
HALF = "def double(x):\n    return x + x\n\ndef shout(text):\n    return text\n"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def json_result(path: Path, *options: str) -> dict[str, Any]:
    result = invoke("check", str(path), "--format", "json", *options)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


@pytest.mark.slow
def test_prairielearn_reads_grade_student_and_writes_grade_results(tmp_path: Path) -> None:
    root = tmp_path / "grade"
    write_assignment(root / "tests")  # the question's tests/ folder: found without --assignment
    (root / "student").mkdir(parents=True)
    (root / "student" / "ex_tiny.py").write_text(HALF)
    result = invoke("autograde", "prairielearn", "--root", str(root))
    assert result.exit_code == 0, result.output
    data = json.loads((root / "results" / "results.json").read_text())  # results/ did not exist before
    jsonschema.validate(data, PRAIRIELEARN_SCHEMA)
    expected = json_result(root / "student", "--assignment", str(root / "tests"))
    assert data["gradable"] is True
    assert data["score"] == pytest.approx(expected["score"] / expected["max_score"])
    assert data["score"] == pytest.approx(3 / 5)
    assert [t["points"] for t in data["tests"]] == [c["points"] for c in expected["checks"]]
    assert "secret-input-xyz" not in json.dumps(data)


@pytest.mark.slow
def test_prairielearn_question_for_one_exercise_of_the_bundled_assignment(tmp_path: Path) -> None:
    root = tmp_path / "grade"
    (root / "student").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "samples" / "class" / "ben.py", root / "student" / "ex05_activations.py")
    result = invoke("autograde", "prairielearn", "--root", str(root), "--exercise", "ex05_activations")
    assert result.exit_code == 0, result.output
    data = json.loads((root / "results" / "results.json").read_text())
    expected = json_result(root / "student")
    assert {c["exercise"] for c in expected["checks"]} == {"ex05_activations"}
    assert data["score"] == pytest.approx(expected["score"] / expected["max_score"])
    assert 0 < data["score"] < 1
    assert len(data["tests"]) == len(expected["checks"])


@pytest.mark.slow
def test_prairielearn_marks_a_submission_with_nothing_to_grade_not_gradable(tmp_path: Path) -> None:
    root = tmp_path / "grade"
    write_assignment(root / "tests")
    (root / "student").mkdir(parents=True)
    (root / "student" / "my_answer.py").write_text("def something_else():\n    return 1\n")
    result = invoke("autograde", "prairielearn", "--root", str(root))
    assert result.exit_code == 0, result.output
    data = json.loads((root / "results" / "results.json").read_text())
    assert data["gradable"] is False
    assert data["score"] == 0.0
    assert any("ex_tiny.py" in error for error in data["format_errors"])


@pytest.mark.slow
def test_gradescope_library_entrypoint_grades_a_zip_left_in_the_submission_folder(
    tiny: Assignment, tmp_path: Path
) -> None:
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(root / "submission" / "work.zip", "w") as archive:
        archive.writestr("work/ex_tiny.py", CORRECT)
    done = autograde(PLATFORMS["gradescope"], tiny, root=root)
    assert done.results == root / "results" / "results.json"
    data = json.loads(done.results.read_text())
    assert data["score"] == done.report.score == done.report.max_score == 5.0
    assert {test["status"] for test in data["tests"]} == {"passed"}


@pytest.mark.slow
def test_a_submission_cannot_write_its_own_results(tiny: Assignment, tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    forged = root / "results" / "results.json"
    planted = root / "results" / "planted.txt"  # the grader never writes it: it exists only if the attack got through
    forged.parent.mkdir(parents=True)
    (root / "submission").mkdir()
    (root / "submission" / "ex_tiny.py").write_text(
        "import json, os\n"
        f"PATH = {str(forged)!r}\n"
        f"PLANT = {str(planted)!r}\n"
        "def double(x):\n"
        "    try:\n"
        "        with open(PATH, 'w') as f:\n"
        "            json.dump({'score': 999, 'tests': []}, f)\n"
        "    except OSError:\n"
        "        pass\n"
        "    try:\n"
        "        with open(PLANT, 'w') as f:\n"
        "            f.write('planted')\n"
        "    except OSError:\n"
        "        pass\n"
        "    return x + x\n"
        "def shout(text):\n"
        "    os._exit(0)\n"
    )
    done = autograde(PLATFORMS["gradescope"], tiny, root=root)
    data = json.loads(forged.read_text())
    assert data["score"] == done.report.score == 3.0  # double's 3 points; shout crashed
    assert len(data["tests"]) == 4
    assert not planted.exists()


@pytest.mark.slow
def test_autolab_entrypoint_prints_the_autoresult_last_for_the_whole_assignment(tmp_path: Path) -> None:
    handin = tmp_path / "handin.py"  # Autolab renames the hand-in to the assessment's base name
    shutil.copy(REPO_ROOT / "samples" / "class" / "ben.py", handin)
    result = invoke("autograde", "autolab", str(handin))
    assert result.exit_code == 0, result.output
    autoresult = read_autoresult(result.output)
    expected = json_result(handin)
    assert sum(autoresult["scores"].values()) == pytest.approx(expected["score"])
    assert autoresult["scoreboard"][0] == pytest.approx(expected["score"])
    # Every exercise gets its problem score, the ones not handed in a zero.
    assert len(autoresult["scores"]) == 6
    assert autoresult["scores"]["ex01_tensors"] == 0
    assert autoresult["scores"]["ex05_activations"] == expected["score"]


@pytest.mark.slow
def test_check_formats_of_one_run_carry_the_json_score(tmp_path: Path, tiny: Assignment) -> None:
    work = tmp_path / "ex_tiny.py"
    work.write_text(HALF)
    pl, js = tmp_path / "pl.json", tmp_path / "result.json"
    result = invoke(
        "check",
        str(work),
        "--assignment",
        str(tiny.root),
        "-f",
        f"json:{js}",
        "-f",
        f"prairielearn:{pl}",
        "-f",
        "autolab",
    )
    assert result.exit_code == 0, result.output
    expected = json.loads(js.read_text())
    assert json.loads(pl.read_text())["score"] == pytest.approx(expected["score"] / expected["max_score"])
    assert sum(read_autoresult(result.output)["scores"].values()) == pytest.approx(expected["score"]) == 3.0


def test_a_missing_platform_folder_is_a_usage_error(tmp_path: Path, tiny: Assignment) -> None:
    result = invoke("autograde", "gradescope", "--root", str(tmp_path), "--assignment", str(tiny.root))
    assert result.exit_code == 2
    assert "submission does not exist: is this Gradescope's grading machine? --root" in result.output
    result = invoke("autograde", "autolab", "--assignment", str(tiny.root))
    assert result.exit_code == 2
    assert "give the hand-in file" in result.output
    (tmp_path / "submission").mkdir()
    result = invoke("autograde", "gradescope", "--root", str(tmp_path), "--assignment", str(tiny.root), "-f", "x")
    assert result.exit_code == 2
    result = invoke(
        "autograde", "gradescope", "--root", str(tmp_path), "--assignment", str(tiny.root), "--exercise", "x"
    )
    assert result.exit_code == 2
    assert "unknown --exercise x; the assignment has ex_tiny" in result.output
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_execution_time_is_the_runs_real_duration(tiny: Assignment, tmp_path: Path) -> None:
    import time

    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "ex_tiny.py").write_text(CORRECT)
    # A run that began 42 s ago (the process's start, as the CLI passes it): the checks alone take a fraction.
    done = autograde(PLATFORMS["gradescope"], tiny, root=root, started=time.monotonic() - 42)
    data = json.loads(done.results.read_text()) if done.results else {}
    assert data["execution_time"] >= 42
    assert done.report.duration_s >= 42


def test_a_process_started_before_now() -> None:
    import time

    from grader.platforms import process_started

    assert process_started() <= time.monotonic()
