"""Hostile submissions of ``examples/losses``, the assignment with a hidden check, graded in one batch.

Each case in ``hostile/losses/`` is one student's submission (the files it
changes; the reference's stand for the rest), and
``hostile/losses/expected.json`` states the verdict each function must get
(the format of ``hostile/expected.json``, with functions named
``module.function`` since a case spans exercises). The class is graded as
``test_hostile.py`` grades its own (``grade_class``, two engines) beside two
honest copies of the reference, with the assignment's own limits. Beyond the
verdicts: nothing of the hidden check ``loss_gradients_deeper_model`` (its
model is the only one with a ``Tanh``) reaches any output a student sees,
whether the student's code read it ahead from its worker's buffers or kept it
from the hidden call to print in a later visible one, in the class's outputs
or in one student's grade; and the same routes do carry the visible checks'
inputs, so the test would see a leak.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.assignment import Assignment, load_assignment
from grader.batch import grade_class
from grader.grading import Grader
from grader.models import ClassReport, Outcome, Report
from grader.output import write_class_outputs, write_student_outputs
from grader.render import REPORT_FORMATS
from grader.submission import load_submission

pytestmark = pytest.mark.slow

LOSSES = Path(__file__).parent.parent / "examples" / "losses"
CASES = Path(__file__).parent / "hostile" / "losses"
EXPECTED = json.loads((CASES / "expected.json").read_text())
HONEST = ("aa_honest", "zz_honest")
LEAKER = "l01_hidden_inputs_stashed_and_read_ahead"
#: What only the hidden check's inputs hold (its MLP's activation), and what the leaking case prints with them.
HIDDEN_TEXT = ("Tanh", "HIDDEN-AHEAD", "HIDDEN-STASH")


@pytest.fixture(scope="module")
def losses() -> Assignment:
    return load_assignment(LOSSES)


@pytest.fixture(scope="module")
def graded(losses: Assignment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClassReport, Path]]:
    class_dir = tmp_path_factory.mktemp("losses-class")
    for case in EXPECTED:  # the reference, with the case's own files over it
        shutil.copytree(LOSSES / "solutions", class_dir / case)
        shutil.copytree(CASES / case, class_dir / case, dirs_exist_ok=True)
    for name in HONEST:
        shutil.copytree(LOSSES / "solutions", class_dir / name)
    out = tmp_path_factory.mktemp("losses-out")
    # The assignment's own limits: its 20 s lets torch._dynamo load in a busy class (2 s would not).
    result = grade_class(class_dir, out, losses, jobs=2, write_student=write_student_outputs)
    write_class_outputs(out, result)
    for report in result.reports:  # every per-report format, as a student or CI would see it
        folder = out / "formats" / report.student
        folder.mkdir(parents=True, exist_ok=True)
        for render, filename in REPORT_FORMATS.values():
            (folder / filename).write_text(render(report), errors="strict")
    yield result, out


def _report(result: ClassReport, student: str) -> Report:
    return next(r for r in result.reports if r.student == student)


def test_every_student_is_graded(graded: tuple[ClassReport, Path]) -> None:
    result, _ = graded
    assert not result.errors
    assert sorted(r.student for r in result.reports) == sorted([*EXPECTED, *HONEST])


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_function_gets_its_verdict(graded: tuple[ClassReport, Path], case: str) -> None:
    report = _report(graded[0], case)
    spec = EXPECTED[case]
    for qualified, verdict in spec["functions"].items():
        exercise, function = qualified.split(".")
        checks = [c for c in report.checks if c.exercise == exercise and c.function == function]
        assert checks, f"{case}: no check of {qualified}"
        reasons = [f"{c.name}: {c.outcome.value} {c.message[:300]}" for c in checks if not c.outcome.ok]
        assert all(c.outcome is Outcome.PASSED for c in checks) == (verdict == "pass"), f"{case}.{qualified}: {reasons}"
        assert not any("machine" in c.message for c in checks), reasons
    for qualified, needle in spec.get("reasons", {}).items():
        exercise, function = qualified.split(".")
        messages = [c.message for c in report.checks if c.exercise == exercise and c.function == function]
        assert any(needle in m for m in messages), f"{case}.{qualified}: no reason mentions {needle!r}: {messages[:2]}"


@pytest.mark.parametrize("name", HONEST)
def test_honest_students_keep_full_marks(graded: tuple[ClassReport, Path], name: str) -> None:
    honest = _report(graded[0], name)
    assert not [(c.name, c.message) for c in honest.checks if not c.outcome.ok]
    assert honest.score == honest.max_score > 0


def _hidden_text(named_texts: list[tuple[str, str]]) -> list[str]:
    return [f"{name}: {word}" for name, text in named_texts for word in HIDDEN_TEXT if word in text]


def test_no_hidden_input_in_any_output_of_the_class(graded: tuple[ClassReport, Path]) -> None:
    result, out = graded
    files = [p for p in out.rglob("*") if p.is_file() and ".cache" not in p.parts]
    assert {"results.json", "junit.xml", "result.json", "report.html"} <= {p.name for p in files}
    terminal = REPORT_FORMATS["text"][0]
    texts = [(str(p), p.read_text(errors="replace")) for p in files]
    texts += [(f"terminal {r.student}", terminal(r)) for r in result.reports]
    assert not _hidden_text(texts)
    hidden = [c for c in _report(result, LEAKER).checks if c.hidden]
    assert hidden and all(c.outcome is Outcome.PASSED and not c.output and not c.duration_s for c in hidden)


def test_no_hidden_input_in_any_output_of_a_students_grade(losses: Assignment, tmp_path: Path) -> None:
    # Graded alone, with the assignment's own limits: every planned call of a worker goes in one exchange.
    with Grader(losses) as grader:
        report = grader.grade(load_submission(CASES / LEAKER, losses, name=LEAKER))
    write_class_outputs(tmp_path, ClassReport(assignment=losses.title, reports=(report,)))
    texts = [(str(p), p.read_text(errors="replace")) for p in tmp_path.rglob("*") if p.is_file()]
    texts += [(filename, render(report)) for render, filename in REPORT_FORMATS.values()]
    assert not _hidden_text(texts)
    # The same routes carry the visible checks' inputs: a hidden one there would have been seen.
    printed = "\n".join(c.output for c in report.checks)
    assert "AHEAD" in printed and "VISIBLE-STASH" in printed
    assert all(c.outcome is Outcome.PASSED for c in report.checks)
