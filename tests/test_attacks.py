"""The shared hostile and broken submissions, graded in one batch beside an honest student.

Each case in ``../shared/attacks`` (bundled copy: ``tests/attacks``) states the
verdict each of its functions must get. Beyond the verdicts, a correct
grader finishes, gives every check a readable reason, keeps the honest
student's full marks, writes nothing outside the scratch folder, reaches no
network and shows no answer-key text or live markup anywhere.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from watch import CANARY, LISTEN_PORT, RAW_CONTROL, grade_watched

from grader.assignment import Assignment
from grader.models import ClassReport, Outcome
from grader.render import render_text

pytestmark = pytest.mark.slow

ATTACKS = Path(__file__).parent / "attacks"
EXPECTED = json.loads((ATTACKS / "expected.json").read_text())


@pytest.fixture(scope="module")
def graded(
    bundled: Assignment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ClassReport, Path, int | None]]:
    class_dir = tmp_path_factory.mktemp("class")
    for case in EXPECTED:
        shutil.copytree(ATTACKS / case, class_dir / case)
    honest = class_dir / "zz_honest"
    shutil.copytree(bundled.root / "solutions", honest)
    before = sorted(CANARY.rglob("*")) if CANARY.exists() else []
    out = tmp_path_factory.mktemp("out")
    result, hits = grade_watched(class_dir, out, bundled)
    after = sorted(CANARY.rglob("*")) if CANARY.exists() else []
    assert after == before, f"an attack wrote outside its scratch folder: {set(after) - set(before)}"
    yield result, out, hits


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_function_gets_its_verdict(graded: tuple[ClassReport, Path, int | None], case: str) -> None:
    result, _, _ = graded
    report = next(r for r in result.reports if r.student == case)
    spec = EXPECTED[case]
    for function, verdict in spec["functions"].items():
        checks = [c for c in report.checks if c.exercise == spec["module"] and c.function == function]
        assert checks, f"{case}: no check of {function}"
        passed = all(c.outcome is Outcome.PASSED for c in checks)
        reasons = [f"{c.name}: {c.outcome.value} {c.message[:200]}" for c in checks if not c.outcome.ok]
        assert passed == (verdict == "pass"), f"{case}.{function} should {verdict}; {reasons}"
    for check in report.checks:
        if not check.outcome.ok and not check.hidden:
            assert check.message.strip(), f"{case}: {check.name} has no reason"


def test_the_honest_student_keeps_full_marks(graded: tuple[ClassReport, Path, int | None]) -> None:
    result, _, _ = graded
    honest = next(r for r in result.reports if r.student == "zz_honest")
    failed = [(c.name, c.message) for c in honest.checks if not c.outcome.ok]
    assert not failed
    assert honest.score == honest.max_score > 0


def test_no_attack_reaches_the_network(graded: tuple[ClassReport, Path, int | None]) -> None:
    _, out, hits = graded
    if hits is None:
        pytest.skip(f"port {LISTEN_PORT} was busy: no listener could watch it")
    assert hits == 0
    assert "ALLOWED" not in (out / "results.json").read_text()


def test_no_answer_key_text_in_any_output(graded: tuple[ClassReport, Path, int | None], bundled: Assignment) -> None:
    _, out, _ = graded
    solution = bundled.exercise("ex05_activations").solution.read_text()
    docstring_free = solution.split('"""')[-1].strip()  # the code after the module docstring
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "LEAK" not in text, path
            assert docstring_free[:200] not in text, path


def test_student_text_is_never_live_markup(graded: tuple[ClassReport, Path, int | None]) -> None:
    result, out, _ = graded
    for path in list(out.rglob("*.html")):
        html = path.read_text()
        assert "<script" not in html.lower(), path
        assert "<img" not in html.lower(), path
        assert not RAW_CONTROL.search(html), path
    for report in result.reports:
        text = render_text(report)
        assert not RAW_CONTROL.search(text), report.student
