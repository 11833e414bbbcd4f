"""Tests for the Gradescope bundle: its contents, its wheel as pip reads it, run_autograder in a fake /autograder."""

from __future__ import annotations

import io
import json
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from conftest import REPO_ROOT
from test_render_formats import GRADESCOPE_SCHEMA

from grader.assignment import Assignment, load_assignment
from grader.bundle import TORCH_INDEX, build_wheel, gradescope_bundle, write_gradescope_bundle
from grader.catalog import catalog
from grader.cli import cli


def unpack(data: bytes, target: Path) -> None:
    """Unzip as Gradescope does, keeping the modes the zip records."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            path = archive.extract(info, target)
            mode = info.external_attr >> 16 & 0o777
            if mode:
                Path(path).chmod(mode)


def test_bundle_has_the_scripts_at_its_root_and_the_assignment_inside(tiny: Assignment, tmp_path: Path) -> None:
    bundle = gradescope_bundle(tiny)
    names = set(bundle.entries)
    assert {"setup.sh", "run_autograder", bundle.wheel} <= names
    assert bundle.wheel.startswith("grader-") and bundle.wheel.endswith("-py3-none-any.whl")
    assert all("/" not in name for name in names if not name.startswith("assignment/"))
    setup = bundle.entries["setup.sh"].decode()
    assert f"WHEEL={bundle.wheel}" in setup
    assert "TORCH=torch==2.13.0" in setup and f"TORCH_INDEX={TORCH_INDEX}" in setup
    # torch from the CPU index first: the wheel's torch==2.13.0 is then satisfied, never fetched from PyPI.
    assert 0 < setup.index('--index-url "$TORCH_INDEX"') < setup.index('"$SOURCE/$WHEEL"')
    for script in ("setup.sh", "run_autograder"):
        path = tmp_path / script
        path.write_bytes(bundle.entries[script])
        checked = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
    # The assignment inside is the one chosen, byte for byte: same fingerprint, nothing else of the repository.
    write_gradescope_bundle(tmp_path / "autograder.zip", tiny)
    unpack((tmp_path / "autograder.zip").read_bytes(), tmp_path / "source")
    inside = load_assignment(tmp_path / "source" / "assignment")
    assert inside.fingerprint() == tiny.fingerprint()
    assert inside.names == tiny.names


def test_the_zip_is_reproducible_and_marks_the_scripts_executable(tiny: Assignment, tmp_path: Path) -> None:
    runner = CliRunner()
    outs = [tmp_path / "first.zip", tmp_path / "second.zip"]
    for out in outs:
        result = runner.invoke(cli, ["bundle", "gradescope", "--out", str(out), "--assignment", str(tiny.root)])
        assert result.exit_code == 0, result.output
        assert "Ubuntu 22.04" in result.output
    assert outs[0].read_bytes() == outs[1].read_bytes()
    with zipfile.ZipFile(outs[0]) as archive:
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert not modes["assignment/assignment.toml"] & stat.S_IXUSR


def test_the_wheel_holds_the_grader_and_no_assignment_and_pip_installs_it(tmp_path: Path) -> None:
    name, data = build_wheel()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = archive.namelist()
        record = archive.read(next(f for f in files if f.endswith(".dist-info/RECORD"))).decode()
    assert "grader/__init__.py" in files and "grader/render/templates/report.html.j2" in files
    assert not [f for f in files if "_assignment" in f or "__pycache__" in f or f.endswith(".pyc")]
    # The repository's own assignment (exercises, solutions, samples) never rides along in the wheel.
    assert not [f for f in files if f.split("/")[0] in ("solutions", "exercises", "checks", "samples")]
    assert len(record.splitlines()) == len(files)
    target = tmp_path / "site"
    wheel = tmp_path / name
    wheel.write_bytes(data)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-compile"]
    installed = subprocess.run(
        [*pip, "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    assert (target / "grader" / "cli.py").read_bytes() == (REPO_ROOT / "grader" / "cli.py").read_bytes()
    assert (target / "grader" / "bundle_files" / "run_autograder").is_file()
    metadata = next(target.glob("grader-*.dist-info")) / "METADATA"
    assert "Requires-Dist: torch==2.13.0" in metadata.read_text()


@pytest.mark.parametrize("exercises", [(), ("ex06_forward", "ex05_activations")])
def test_run_autograder_runs_the_venv_python3_on_path_with_the_platform_layout(
    bundled: Assignment, tmp_path: Path, exercises: tuple[str, ...]
) -> None:
    root = tmp_path / "autograder"
    script = root / "source" / "run_autograder"
    script.parent.mkdir(parents=True)
    script.write_bytes(gradescope_bundle(bundled, exercises=exercises).entries["run_autograder"])
    # A python3 in the venv setup.sh makes, and another one later on PATH that must not be used.
    for folder, name in ((root / "venv" / "bin", "venv"), (tmp_path / "bin", "system")):
        folder.mkdir(parents=True)
        fake = folder / "python3"
        fake.write_text(f'#!/bin/sh\necho {name} > "{tmp_path}/which"\nprintf "%s\\n" "$@" > "{tmp_path}/args"\n')
        fake.chmod(0o755)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "GRADER_AUTOGRADER_ROOT": str(root)}
    ran = subprocess.run(["bash", str(script)], cwd=root, env=env, capture_output=True, text=True, check=False)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "which").read_text() == "venv\n"
    args = (tmp_path / "args").read_text().splitlines()
    expected = ["-I", "-m", "grader", "autograde", "gradescope", "--root", str(root)]
    expected += ["--assignment", f"{root}/source/assignment"]
    expected += ["--exercise", "ex05_activations", "--exercise", "ex06_forward"] if exercises else []
    assert args == expected


def test_unknown_exercise_is_a_usage_error(tiny: Assignment, tmp_path: Path) -> None:
    out = tmp_path / "a.zip"
    result = CliRunner().invoke(
        cli, ["bundle", "gradescope", "--out", str(out), "--assignment", str(tiny.root), "--exercise", "nope"]
    )
    assert result.exit_code == 2
    assert "unknown --exercise nope" in result.output
    assert not out.exists()


def simulate_autograder(tmp_path: Path, bundle_zip: Path, submission: Path) -> subprocess.CompletedProcess[str]:
    """Lay out /autograder under ``tmp_path`` as Gradescope does and run run_autograder there.

    setup.sh is not run (it installs system packages); python3 on PATH is
    this test session's Python, standing for the one setup.sh installs.
    """
    root = tmp_path / "autograder"
    unpack(bundle_zip.read_bytes(), root / "source")
    shutil.copytree(submission, root / "submission")
    (root / "results").mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    python3 = bin_dir / "python3"
    python3.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python3.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GRADER_AUTOGRADER_ROOT": str(root), "HOME": str(tmp_path)}
    return subprocess.run(
        [str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, check=False
    )


def check_json(path: Path, assignment: Path) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["check", str(path), "--assignment", str(assignment), "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.output)
    return data


@pytest.mark.slow
def test_run_autograder_grades_the_submission_like_grader_check(tiny: Assignment, tmp_path: Path) -> None:
    bundle_zip = tmp_path / "autograder.zip"
    built = CliRunner().invoke(cli, ["bundle", "gradescope", "--out", str(bundle_zip), "--assignment", str(tiny.root)])
    assert built.exit_code == 0, built.output
    student = tmp_path / "student"
    student.mkdir()
    # double is right, shout forgets the "!": the hidden shout check fails too.
    (student / "ex_tiny.py").write_text(
        "def double(x):\n    return x + x\n\ndef shout(text):\n    return text.upper()\n"
    )
    ran = simulate_autograder(tmp_path, bundle_zip, student)
    assert ran.returncode == 0, ran.stderr
    results = json.loads((tmp_path / "autograder" / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    expected = check_json(student, tiny.root)
    assert results["score"] == expected["score"] == 3.0
    assert len(results["tests"]) == len(expected["checks"]) == 4  # type: ignore[arg-type]
    assert sum(test["score"] for test in results["tests"]) == results["score"]
    hidden = [test for test in results["tests"] if test["visibility"] != "visible"]
    assert len(hidden) == 1 and hidden[0]["visibility"] == "after_published" and hidden[0]["status"] == "failed"
    assert "secret-input-xyz" not in json.dumps(results)


@pytest.mark.slow
def test_run_autograder_with_the_bundled_assignment_scores_missing_exercises_zero(
    bundled: Assignment, tmp_path: Path
) -> None:
    bundle_zip = tmp_path / "autograder.zip"
    built = CliRunner().invoke(cli, ["bundle", "gradescope", "--out", str(bundle_zip)])
    assert built.exit_code == 0, built.output
    student = REPO_ROOT / "samples" / "class" / "farid"  # ex05 and ex06 only
    ran = simulate_autograder(tmp_path, bundle_zip, student)
    assert ran.returncode == 0, ran.stderr
    results = json.loads((tmp_path / "autograder" / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    expected = check_json(student, bundled.root)
    assert results["score"] == expected["score"]
    # Gradescope gets every check of the assignment, the missing exercises as not attempted.
    checks = catalog(bundled)
    assert len(results["tests"]) == len(checks)
    assert sum(test["max_score"] for test in results["tests"]) == sum(info.points for info in checks)
    assert {test["tags"][0] for test in results["tests"]} == set(bundled.names)
    graded = {"ex05_activations", "ex06_forward"}
    assert all(test["score"] == 0 for test in results["tests"] if test["tags"][0] not in graded)
    assert all(test["visibility"] == "visible" for test in results["tests"])


def test_the_torch_index_is_chosen_when_the_bundle_is_built(tiny: Assignment, tmp_path: Path) -> None:
    out = tmp_path / "a.zip"
    mirror = "https://mirror.example.edu/pytorch/whl/cpu/"
    args = ["bundle", "gradescope", "--out", str(out), "--assignment", str(tiny.root), "--torch-index", mirror]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as archive:
        setup = archive.read("setup.sh").decode()
    assert "TORCH_INDEX=https://mirror.example.edu/pytorch/whl/cpu\n" in setup
    assert TORCH_INDEX not in setup
    assert "mirror.example.edu" in result.output


@pytest.mark.parametrize("bad", ["mirror.example.edu", "ftp://mirror/x", "https://m/x'; rm -rf /", ""])
def test_a_torch_index_that_is_not_a_url_is_a_usage_error(tiny: Assignment, tmp_path: Path, bad: str) -> None:
    out = tmp_path / "a.zip"
    args = ["bundle", "gradescope", "--out", str(out), "--assignment", str(tiny.root), "--torch-index", bad]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "--torch-index" in result.output and not out.exists()


def test_setup_sh_stops_at_once_with_a_clear_line_when_an_index_is_unreachable(tiny: Assignment) -> None:
    setup = gradescope_bundle(tiny).entries["setup.sh"].decode()
    # Both indexes are probed before the first pip install, with a short timeout and no retries.
    assert setup.index('reach "$TORCH_INDEX/torch/"') < setup.index("-m pip install")
    assert "PIP_RETRIES=1" in setup
    probe = setup[setup.index("reach() {") : setup.index("\n}\n", setup.index("reach() {")) + 3]
    # Port 9 (discard) on this machine's loopback: refused at once, nothing leaves the machine.
    script = f'{probe}\nPYTHON={sys.executable}\nreach "http://127.0.0.1:9/torch/" "the torch index"\necho unreached\n'
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 1
    assert "unreached" not in ran.stdout
    assert "setup.sh: cannot reach the torch index at http://127.0.0.1:9/torch/" in ran.stderr
    assert "--torch-index" in ran.stderr
