"""A labelled corpus of real-world-style submissions: no correct function fails, no incorrect one passes.

``tests/corpus_tensors/<student>/<exercise>.py`` are written the way students
write them (``torch.as_tensor``, ``math.prod(t.shape)``, ``F.linear``, a stable
softmax by hand, NumPy round trips, in-place updates, ``model.eval()`` inside
``forward_pass`` ...); ``labels.json`` labels each function by the contract.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.grading import Grader
from grader.models import Outcome
from grader.submission import load_submission

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "corpus_tensors"
LABELS: dict[str, dict[str, dict[str, str]]] = {
    k: v for k, v in json.loads((CORPUS / "labels.json").read_text()).items() if not k.startswith("_")
}


def test_every_file_is_labelled_and_every_label_has_a_file() -> None:
    files = {(p.parent.name, p.stem) for p in CORPUS.glob("*/*.py")}
    labelled = {(student, exercise) for student, exercises in LABELS.items() for exercise in exercises}
    assert files == labelled
    assert {label for e in LABELS.values() for f in e.values() for label in f.values()} == {"correct", "incorrect"}


@pytest.mark.parametrize("student", sorted(LABELS))
def test_corpus_is_graded_as_labelled(student: str, bundled: Assignment, bundled_grader: Grader) -> None:
    labels = LABELS[student]
    report = bundled_grader.grade(load_submission(CORPUS / student, bundled, name=student), exercises=list(labels))
    by_function: dict[tuple[str, str], list[tuple[str, Outcome, str]]] = {}
    for result in report.checks:
        by_function.setdefault((result.exercise, result.function), []).append(
            (result.name, result.outcome, result.message)
        )
    wrong = []
    for exercise, functions in labels.items():
        for function, label in functions.items():
            results = by_function[(exercise, function)]
            failed = [
                (name, outcome.value, message) for name, outcome, message in results if outcome is not Outcome.PASSED
            ]
            if label == "correct" and failed:
                wrong.append(f"false fail: {exercise}.{function}: {failed}")
            if label == "incorrect" and not failed:
                wrong.append(f"false pass: {exercise}.{function} passed all {len(results)} checks")
    assert not wrong, "\n".join(wrong)
