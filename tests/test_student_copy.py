"""The student copy: written from the full assignment, holding no answer key, judging as the teacher's grade does."""

from __future__ import annotations

import ast
import base64
import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from grader import codec
from grader.assignment import Assignment, load_assignment
from grader.cli import cli
from grader.doctor import describe_assignment
from grader.errors import AssignmentError
from grader.grading import Grader
from grader.models import Outcome, Report
from grader.recording import write_student_copy
from grader.reference import LiveReference, NotRecorded, RecordedReference, Recording, request_key
from grader.student_copy import (
    COPY_NAME,
    find_student_copy,
    open_assignment,
    public_checks_source,
    read_student_copy,
)
from grader.submission import build_submission, load_submission

REPO = Path(__file__).resolve().parent.parent
LOSSES = REPO / "examples" / "losses"
COMMITTED = REPO / "student" / COPY_NAME
SAMPLES = REPO / "samples" / "class"


@pytest.fixture(scope="module")
def losses_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ = write_student_copy(load_assignment(LOSSES), tmp_path_factory.mktemp("losses"))
    return path


def copy_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name).decode() for name in archive.namelist()}


# --- what the copy holds ------------------------------------------------------------------------------------------


def test_the_committed_copy_of_the_bundled_assignment_is_current(tmp_path: Path, bundled: Assignment) -> None:
    written, _ = write_student_copy(bundled, tmp_path)
    assert _stale_members(written, COMMITTED) == [], (
        "student/assignment.grader is stale: regenerate it with `grader student-copy --out student`"
    )


def _stale_members(written: Path, committed: Path) -> list[str]:
    """The members of two copies that differ, a recorded float answer's last bits aside.

    The reference's answers are computed on the machine that writes the copy, and
    torch's vectorised kernels (AVX2 or AVX-512, as the CPU offers) may round an
    ``exp`` differently in the last place: on another CPU, a current copy differs
    from the committed one there, and only there.
    """
    new, old = copy_texts(written), copy_texts(committed)
    stale = sorted(set(new) ^ set(old))
    for name in sorted(set(new) & set(old)):
        if new[name] == old[name]:
            continue
        if not (name.startswith("answers/") and _same_answers(json.loads(new[name]), json.loads(old[name]))):
            stale.append(name)
    return stale


def _same_answers(new: dict[str, Any], old: dict[str, Any]) -> bool:
    if new.keys() != old.keys():
        return False
    for check in new:
        if new[check].keys() != old[check].keys():
            return False
        for key, answer in new[check].items():
            before = old[check][key]
            if answer == before:
                continue
            if {k: v for k, v in answer.items() if k != "value"} != {k: v for k, v in before.items() if k != "value"}:
                return False
            try:
                _assert_close(_decoded(answer["value"]), _decoded(before["value"]))
            except AssertionError:
                return False
    return True


def _decoded(value: str) -> Any:
    return codec.decode(base64.b64decode(value))


def _assert_close(new: Any, old: Any) -> None:
    """Equal but for a float's last bits: same types, shapes, dtypes, integers and structure."""
    if isinstance(new, torch.nn.Module) or isinstance(old, torch.nn.Module):
        assert type(new) is type(old)
        new, old = dict(new.state_dict()), dict(old.state_dict())
    torch.testing.assert_close(new, old, rtol=1e-6, atol=1e-7, equal_nan=True)


def test_a_copy_holds_no_solution_body_and_no_hidden_check(losses_copy: Path, tmp_path: Path) -> None:
    for root, copy in ((LOSSES, losses_copy), (REPO, COMMITTED)):
        texts = copy_texts(copy)
        assert sorted({name.split("/")[0] for name in texts}) == ["answers", "checks", "exercises", "manifest.json"]
        code = "\n".join(text for name, text in texts.items() if name.endswith(".py"))
        bodies = {_body(function) for function in _functions(code)}
        for solution in sorted((root / "solutions").glob("*.py")):
            source = solution.read_text(encoding="utf-8")
            for function in _functions(source):
                assert _body(function) not in bodies, f"{solution.name}: {function.name}'s body is in the copy"
                for line in ast.unparse(function.body[-1]).splitlines():
                    if len(line.strip()) >= 24:
                        assert line.strip() not in code, f"{solution.name}: {line.strip()!r} is in the copy"
    losses = copy_texts(losses_copy)
    manifest = json.loads(losses["manifest.json"])
    assert [h["name"] for h in manifest["hidden"]] == ["loss_gradients_deeper_model"]
    checks = losses["checks/check_lx02_gradients.py"]
    assert "deeper_model" not in checks and "hidden=True" not in checks
    assert "def check_loss_gradients_linear" in checks  # the public checks are all there
    # The recorded answers are data: base64 of the pickle-free codec, never a pickle.
    answers = json.loads(losses["answers/lx02_gradients.json"])
    assert not [check for check in answers if "deeper" in check]


def test_writing_a_copy_twice_gives_the_same_bytes(tmp_path: Path, losses_copy: Path) -> None:
    again, _ = write_student_copy(load_assignment(LOSSES), tmp_path)
    assert again.read_bytes() == losses_copy.read_bytes()


def _functions(source: str) -> list[ast.FunctionDef]:
    return [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)]


def _body(function: ast.FunctionDef) -> str:
    body = function.body[1:] if ast.get_docstring(function) else function.body
    return ast.dump(ast.Module(body=body, type_ignores=[]))


def test_public_checks_source_cuts_hidden_checks_and_what_only_they_use() -> None:
    source = '''"""Checks."""
import torch

SHARED = 3
SECRET_SIZE = 17


def _shared(n):
    return torch.ones(n)


def _secret_input():
    return torch.full((SECRET_SIZE,), 0.5)


@check("f", points=1)
def check_public(student, reference):
    """Public."""
    x = _shared(SHARED)
    assert student.f(x) == reference.f(x)


@check("f", points=2, hidden=True)
def check_hidden(student, reference):
    """Hidden."""
    x = _secret_input() + _shared(SHARED)
    assert student.f(x) == reference.f(x)
'''
    cut = public_checks_source(source, {"check_hidden"})
    assert "check_hidden" not in cut and "_secret_input" not in cut and "SECRET_SIZE" not in cut
    assert "def check_public" in cut and "def _shared" in cut and "SHARED = 3" in cut and '"""Checks."""' in cut
    assert "hidden=True" not in cut
    compile(cut, "cut.py", "exec")
    assert public_checks_source(source, ()) == source, "with no hidden check, nothing is cut"


# --- the reference a check sees -----------------------------------------------------------------------------------


def test_a_recorded_reference_answers_the_recorded_requests_and_defers_the_rest() -> None:
    import types

    module = types.ModuleType("ref")
    module.double = lambda x: 2 * x  # type: ignore[attr-defined]
    module.bad = lambda n: [][n]  # type: ignore[attr-defined]
    recording = Recording()
    live = LiveReference(module, seed=7, recording=recording)
    x = torch.arange(6.0).reshape(2, 3).T  # a view: its bytes and layout are the key
    expected = live.double(x)
    with pytest.raises(IndexError):
        live.bad(3)
    recorded = RecordedReference(recording.answers, exercise="ref")
    assert torch.equal(recorded.double(x), expected)
    with pytest.raises(IndexError):
        recorded.bad(3)
    with pytest.raises(NotRecorded):
        recorded.double(x + 1)
    with pytest.raises(NotRecorded):
        recorded.double(x.contiguous())  # the same values in another layout is another request
    assert request_key("double", (x,), {}) == request_key("double", (x,), {}) != request_key("bad", (x,), {})


def test_a_live_reference_leaves_the_checks_random_streams_as_they_were() -> None:
    import types

    module = types.ModuleType("ref")
    module.layer = lambda: torch.nn.Linear(3, 2)  # type: ignore[attr-defined]
    live = LiveReference(module, seed=11)
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    first = live.layer()
    after = torch.rand(3)
    assert torch.equal(before, after), "a reference call drew from the check's stream"
    assert torch.equal(first.weight, live.layer().weight), "a reference call is not seeded on its own"


# --- reading a copy --------------------------------------------------------------------------------------------


def test_a_broken_or_foreign_copy_is_a_clear_assignment_error(tmp_path: Path, losses_copy: Path) -> None:
    bad = tmp_path / "bad.grader"
    bad.write_bytes(b"not a zip")
    with pytest.raises(AssignmentError, match="not a readable student copy"):
        read_student_copy(bad)
    members = copy_texts(losses_copy)
    for change, message in (
        (lambda m: m.__setitem__("../evil.py", "x"), "unexpected file"),
        (
            lambda m: m.__setitem__("manifest.json", json.dumps({**json.loads(m["manifest.json"]), "version": 99})),
            "version 99",
        ),
        (lambda m: m.pop("manifest.json"), "no manifest"),
        (lambda m: m.pop("checks/check_lx01_losses.py"), "lacks checks/check_lx01_losses.py"),
    ):
        changed = dict(members)
        change(changed)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, text in changed.items():
                archive.writestr(name, text)
        bad.write_bytes(buffer.getvalue())
        with pytest.raises(AssignmentError, match=message):
            read_student_copy(bad)


def test_a_copy_is_found_beside_the_work_and_refused_where_the_answer_key_is_needed(
    tmp_path: Path, losses_copy: Path
) -> None:
    handout = tmp_path / "handout"
    (handout / "week3").mkdir(parents=True)
    (handout / COPY_NAME).write_bytes(losses_copy.read_bytes())
    work = handout / "week3" / "lx01_losses.py"
    work.write_text("x = 1\n")
    assert find_student_copy(work) == handout / COPY_NAME
    assert find_student_copy(tmp_path) is None
    copy = open_assignment(None, near=work)
    assert copy.copy is not None and copy.fingerprint() == load_assignment(LOSSES).fingerprint()
    assert "1 hidden checks run when your teacher grades" in describe_assignment(work)
    assert "full assignment" in describe_assignment(REPO / "samples")
    for command in (["grade", str(SAMPLES)], ["selftest"], ["assign", "--out", str(tmp_path / "o")]):
        result = CliRunner().invoke(cli, [*command, "--assignment", str(handout)])
        assert result.exit_code == 4, result.output
        assert "needs the full assignment" in result.output


# --- grading against a copy --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def losses_graders(losses_copy: Path) -> Iterator[tuple[Grader, Grader, Assignment, Assignment]]:
    full = load_assignment(LOSSES)
    copy = read_student_copy(losses_copy)
    with Grader(full) as teacher:
        yield teacher, teacher.sharing(copy), full, copy


@pytest.mark.slow
def test_a_correct_submission_gets_every_public_check_against_the_copy(
    losses_graders: tuple[Grader, Grader, Assignment, Assignment],
) -> None:
    _, local, _, copy = losses_graders
    files = {f"{e}.py": (LOSSES / "solutions" / f"{e}.py").read_bytes() for e in copy.names}
    report = local.grade(build_submission(files, copy, name="right"))
    outcomes = {c.name: c.outcome for c in report.checks}
    assert outcomes.pop("loss_gradients_deeper_model") is Outcome.DEFERRED
    assert set(outcomes.values()) == {Outcome.PASSED}, report.checks
    assert report.student_copy and report.deferred == 1
    assert "14 of 15 checks judged here" in report.mode()
    assert Report.from_dict(report.to_dict()).student_copy


@pytest.mark.slow
def test_answers_fitted_to_the_copy_pass_locally_and_fail_the_teachers_grade(
    losses_graders: tuple[Grader, Grader, Assignment, Assignment], tmp_path: Path
) -> None:
    """A student who tabulates the public inputs' answers (from the copy's checks and seeds) earns nothing."""
    teacher, local, full, copy = losses_graders
    # What a cheating student can compute at home: every input the copy's checks send to mse_loss.
    seen: list[tuple[list[float], list[float], float]] = []

    class Spy:
        def __getattr__(self, name: str) -> object:
            def call(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                value = torch.mean((prediction.detach() - target.detach()) ** 2)
                seen.append((prediction.flatten().tolist(), target.flatten().tolist(), float(value)))
                return value

            return call

    from grader.plugin import check_seed
    from grader.proxy import seed_rngs

    checks: dict[str, Any] = {}
    exec(compile(copy.exercise("lx01_losses").checks.read_text(), "checks", "exec"), checks)
    for name in [n for n in checks if n.startswith("check_mse")]:
        seed_rngs(check_seed("lx01_losses", name.removeprefix("check_")))  # the copy's public seeds
        checks[name](Spy(), Spy())
    assert seen, "the spy saw no input"
    table = {repr((p, t)): v for p, t, v in seen}
    fitted = (
        "import torch\n"
        f"TABLE = {table!r}\n"
        "def mse_loss(prediction, target):\n"
        "    key = repr((prediction.detach().flatten().tolist(), target.detach().flatten().tolist()))\n"
        "    return torch.tensor(TABLE.get(key, 0.0), dtype=prediction.dtype)\n"
        "def cross_entropy_loss(logits, labels):\n"
        "    raise NotImplementedError\n"
    )
    here = local.grade(build_submission({"lx01_losses.py": fitted.encode()}, copy, name="fitted"))
    there = teacher.grade(build_submission({"lx01_losses.py": fitted.encode()}, full, name="fitted"))
    mse_here = [c.outcome for c in here.checks if c.function == "mse_loss"]
    mse_there = [c.outcome for c in there.checks if c.function == "mse_loss"]
    assert mse_here == [Outcome.PASSED] * 3, here.checks
    assert Outcome.PASSED not in mse_there, there.checks


@pytest.mark.slow
def test_the_copy_never_contradicts_the_teachers_grade_on_the_labelled_corpora(
    bundled: Assignment, bundled_grader: Grader
) -> None:
    """Check by check, wherever the student's copy judges, it says what the teacher's grade says."""
    copy = read_student_copy(COMMITTED)
    local = bundled_grader.sharing(copy)
    folders = sorted(p for corpus in ("corpus_tensors", "corpus_modules") for p in (REPO / "tests" / corpus).iterdir())
    folders += sorted(p for p in SAMPLES.iterdir() if p.is_dir())
    students = [f for f in folders if f.is_dir()]
    teacher_reports = {s: bundled_grader.grade(load_submission(s, bundled, name=s.name)) for s in students}
    contradictions, judged, wrong = [], 0, 0
    for student in students:
        here = local.grade(load_submission(student, copy, name=student.name))
        there = {c.id: c.outcome for c in teacher_reports[student].checks}
        for check in here.checks:
            passed_here, passed_there = check.outcome is Outcome.PASSED, there[check.id] is Outcome.PASSED
            if check.outcome is not Outcome.DEFERRED and passed_here != passed_there:
                contradictions.append(f"{student.name}: {check.id}: {check.outcome} here, {there[check.id]} there")
            if there[check.id] not in (Outcome.PASSED, Outcome.NOT_ATTEMPTED):
                wrong += 1
                judged += check.outcome is not Outcome.DEFERRED
    assert not contradictions, "\n".join(contradictions)
    assert wrong > 50 and judged >= 0.9 * wrong, f"only {judged} of {wrong} failing checks judged locally"


@pytest.mark.slow
def test_grader_check_in_a_handout_folder_grades_against_its_copy(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["assign", "--out", str(tmp_path / "handout"), "--assignment", str(LOSSES)])
    assert result.exit_code == 0, result.output
    handout = tmp_path / "handout"
    notebook = json.loads((handout / "lx01_losses.ipynb").read_text())
    check_cell = "".join(notebook["cells"][-1]["source"])
    assert check_cell.endswith("check(exercise='lx01_losses')"), "a hand-out names no folder of the teacher's"
    assert str(LOSSES) not in "".join((handout / f).read_text(errors="replace") for f in ("lx01_losses.ipynb",))
    for name in ("lx01_losses.py", "lx02_gradients.py", "lx03_step.py"):
        (handout / name).write_bytes((LOSSES / "class" / "ana" / name).read_bytes())
    result = CliRunner().invoke(cli, ["check", str(handout), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["student_copy"] is True and data["fingerprint"] == load_assignment(LOSSES).fingerprint()[:12]
    outcomes = [c["outcome"] for c in data["checks"]]
    assert outcomes.count("deferred") == 1 and outcomes.count("passed") == len(outcomes) - 1


# --- what a student installs ----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_student_environment_from_the_wheel_alone_checks_the_sample_class(tmp_path: Path) -> None:
    """The wheel holds no answer key; installed on its own (no repository on the path), it grades the samples."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("grader-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        code = "\n".join(archive.read(n).decode() for n in names if n.endswith(".py"))
        shipped_copy = archive.read("grader/_assignment/assignment.grader")
    assert shipped_copy == COMMITTED.read_bytes()
    assert not [n for n in names if n.split("/")[0] in ("solutions", "checks", "samples", "exercises")]
    assert not [n for n in names if "/solutions/" in n or "/samples/" in n or "/checks/" in n], names
    for solution in sorted((REPO / "solutions").glob("*.py")):
        for function in _functions(solution.read_text(encoding="utf-8")):
            assert _body(function) not in {_body(f) for f in _functions(code)}, f"{function.name} ships in the wheel"
    # A student's environment: this wheel alone, torch and the other dependencies beside it, no repository.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    site = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # A path line only: the dependencies' folder, without processing its .pth files (this checkout's editable install).
    dependencies = [path for path in sys.path if path.endswith("site-packages")]
    (site / "_dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))
    where = subprocess.check_output(
        [str(python), "-I", "-c", "import grader, sys; print(grader.__file__); print(sys.path)"],
        text=True,
        cwd=tmp_path,
    )
    assert where.splitlines()[0].startswith(str(venv)) and str(REPO) not in where
    work = tmp_path / "work"
    shutil.copytree(SAMPLES, work, ignore=shutil.ignore_patterns("*.zip"))

    def check(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(python), "-I", "-m", "grader", *extra, str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=600,
        )

    ada = check(work / "ada", "check", "--format", "json")
    assert ada.returncode == 0, ada.stderr
    report = json.loads(ada.stdout)
    assert report["student_copy"] is True and report["percent"] == 100.0
    assert {c["outcome"] for c in report["checks"]} == {"passed"}
    ben = json.loads(check(work / "ben.py", "check", "--format", "json").stdout)
    assert ben["student_copy"] is True and 0 < ben["percent"] < 100
    refused = check(work, "grade")
    assert refused.returncode == 4 and "needs the full assignment" in refused.stderr
