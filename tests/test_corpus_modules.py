"""A labelled corpus of submissions built the way students write them: module classes and tensor views.

``corpus_modules/<case>/`` holds one student's files; ``labels.json`` says,
per case, exercise and function, whether the function meets every sentence
of its contract (``correct``) or breaks one (``incorrect``). Graded with the
bundled assignment: a correct function passes every check (no false fail,
whatever class or layout its value has), an incorrect one fails at least one
(no false pass, e.g. by being rebuilt as an honest base class).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.grading import Grader
from grader.models import CheckResult, Outcome, Report
from grader.submission import build_submission

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "corpus_modules"
LABELS: dict[str, dict[str, object]] = json.loads((CORPUS / "labels.json").read_text())


@pytest.fixture(scope="module")
def reports(bundled: Assignment, bundled_grader: Grader) -> dict[str, Report]:
    graded = {}
    for case in LABELS:
        files = {path.name: path.read_bytes() for path in sorted((CORPUS / case).glob("*.py"))}
        submission = build_submission(files, bundled, name=case)
        graded[case] = bundled_grader.grade(submission, exercises=submission.exercises)
    return graded


def _checks(report: Report, exercise: str, function: str) -> list[CheckResult]:
    checks = [c for c in report.checks if c.exercise == exercise and c.function == function]
    assert checks, f"{report.student}: no check of {exercise}.{function}"
    return checks


def test_every_case_has_its_files_and_labels() -> None:
    cases = {path.name for path in CORPUS.iterdir() if path.is_dir()}
    assert cases == set(LABELS)
    for case, spec in LABELS.items():
        exercises = {key for key in spec if key != "why"}
        assert exercises == {p.stem for p in (CORPUS / case).glob("*.py")}, case


@pytest.mark.parametrize("case", sorted(LABELS))
def test_no_false_fail_and_no_false_pass(reports: dict[str, Report], case: str) -> None:
    report = reports[case]
    for exercise, functions in LABELS[case].items():
        if exercise == "why":
            continue
        assert isinstance(functions, dict)
        for function, label in functions.items():
            checks = _checks(report, exercise, function)
            failed = [f"{c.name}: {c.outcome.value}: {c.message[:300]}" for c in checks if not c.outcome.ok]
            if label == "correct":
                assert not failed, f"false fail: {case} {exercise}.{function}: {failed}"
            else:
                assert failed, f"false pass: {case} {exercise}.{function} passed every check"


def _by_name(report: Report) -> dict[str, CheckResult]:
    return {c.name: c for c in report.checks}


def test_a_subclass_that_changes_nothing_is_noted_in_the_report(reports: dict[str, Report]) -> None:
    problems = reports["c01_tutorial_classes"].problems
    assert (
        "ex05_activations.binary_classifier returned your class LogisticRegression, which changes nothing "
        "nn.Sequential does: it was graded as that nn.Sequential"
    ) in problems
    assert any("returned your class ClassifierHead" in p for p in reports["c02_linear_subclasses"].problems)


def test_an_own_forward_is_judged_by_running_it(reports: dict[str, Report]) -> None:
    report = reports["c03_honest_forward_overrides"]
    assert any(
        "your class Dense (it defines its own forward): it was graded by running it" in p for p in report.problems
    )


def test_a_plain_module_subclass_for_binary_classifier(reports: dict[str, Report]) -> None:
    """Under the contract: not the nn.Sequential it asks for (layers, and the check on the reference's weights,
    which needs those layers), yet it does map a batch to probabilities, so that check is passed."""
    checks = _by_name(reports["c04_own_module_classes"])
    layers = checks["binary_classifier_layers"]
    assert layers.outcome is Outcome.FAILED
    assert (
        "expected an nn.Sequential, got a LogisticRegression (your own nn.Module subclass, with its own forward)"
        in (layers.message)
    )
    assert checks["binary_classifier_outputs_probabilities"].outcome is Outcome.PASSED
    assert checks["binary_classifier_behaviour"].outcome is Outcome.FAILED
    make_linear = checks["make_linear_structure"]
    assert (
        "expected an nn.Linear, got a Layer (your own nn.Module subclass, with its own forward)" in make_linear.message
    )
    assert "Return an nn.Linear itself" in make_linear.hint
    stack = checks["stack_layers_structure"]
    assert "got a MLP (your own nn.Module subclass, with its own forward)" in stack.message


def test_a_refused_value_says_what_was_returned_and_what_the_contract_asks(reports: dict[str, Report]) -> None:
    check = next(c for c in reports["c10_unsupported_values"].checks if c.function == "make_tensor")
    assert check.outcome is Outcome.FAILED
    assert "make_tensor returned an unsupported type numpy.ndarray" in check.message
    assert "The contract asks: Build a tensor from a (nested) Python list of numbers; return a tensor" in check.message
