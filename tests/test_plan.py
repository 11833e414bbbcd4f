"""Planned calls and remembered verdicts: the same reports as grading each call on its own, in fewer exchanges.

A grading process records, once, the calls each check makes to the
reference (``grader.plan``); a submission's planned calls then travel to its
worker in one exchange, and a check whose answers are byte for byte those
another submission gave gets that verdict again. None of it may change a
report: these tests grade the same submissions with and without it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from _pytest.nodes import Node

from grader import plugin as plugin_module
from grader.assignment import Assignment
from grader.grading import Grader
from grader.models import CheckResult, Location, Outcome, Report
from grader.plugin import GraderPlugin, Job, run_session
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.request import pack_request
from grader.sandbox.runner import PlannedCall, SubmissionRunner, call_request
from grader.sandbox.scratch import make_root
from grader.submission import Submission, build_submission

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("ex*.py"))}


def _mutated(exercise: str, function: str, body: str) -> dict[str, bytes]:
    """The reference solutions with one function replaced."""
    files = _files(ROOT / "solutions")
    files[f"{exercise}.py"] += f"\n\n{body}\n".encode()
    assert f"def {function}(" in body
    return files


SUBMISSIONS: dict[str, dict[str, bytes]] = {
    "reference": _files(ROOT / "solutions"),
    "stubs": _files(ROOT / "exercises"),
    "numpy_shape": _mutated("ex01_tensors", "tensor_shape", "def tensor_shape(t):\n    return t.numpy().shape"),
    "in_place_add": _mutated("ex02_operations", "add", "def add(a, b):\n    return a.add_(b)"),
    "softmax_dim0": _mutated(
        "ex05_activations", "apply_softmax", "def apply_softmax(x, dim):\n    return torch.softmax(x, dim=0)"
    ),
    "count_weights_only": _mutated(
        "ex03_linear", "count_parameters", "def count_parameters(model):\n    return model.weight.numel()"
    ),
    "printing": _mutated(
        "ex05_activations",
        "apply_sigmoid",
        "def apply_sigmoid(x):\n    print('shape', tuple(x.shape))\n    return x.sigmoid()",
    ),
    "raises_sometimes": _mutated(
        "ex01_tensors",
        "count_elements",
        "def count_elements(t):\n    if t.dim() == 0:\n        raise ValueError('no dims')\n    return t.numel()",
    ),
    # Its first result is refilled by the next call: only calls made in one request (``in_sequence``) see it.
    "refilled_sigmoid": _mutated(
        "ex05_activations",
        "apply_sigmoid",
        "_out = {}\n\n\ndef apply_sigmoid(x):\n"
        "    buffer = _out.setdefault((x.shape, x.dtype), torch.empty(x.shape, dtype=x.dtype))\n"
        "    return buffer.copy_(torch.sigmoid(x.detach()))",
    ),
    "own_classes": {
        **_files(ROOT / "solutions"),
        "ex05_activations.py": (ROOT / "tests/corpus_modules/c04_own_module_classes/ex05_activations.py").read_bytes()
        + b"\n\ndef apply_sigmoid(x):\n    return torch.sigmoid(x)\n\n\ndef apply_softmax(x, dim):\n"
        b"    return torch.softmax(x, dim=dim)\n",
    },
}


def _submission(bundled: Assignment, name: str) -> Submission:
    return build_submission(SUBMISSIONS[name], bundled, name=name)


def _comparable(report: Report) -> list[dict[str, Any]]:
    return [{**dataclasses.asdict(c), "duration_s": 0} for c in report.checks]


class CountingRunner(SubmissionRunner):
    """A runner that counts the calls it had to make one by one (not planned, or not as planned)."""

    alone = 0

    def _call_now(self, *args: Any, **kwargs: Any) -> Any:
        CountingRunner.alone += 1
        return super()._call_now(*args, **kwargs)


def _grade_all(assignment: Assignment, zygote: Zygote, submissions: list[Submission]) -> tuple[list[Report], int, int]:
    """Grade in one session; the reports, the calls made one by one, and the verdicts remembered."""
    grader = Grader(assignment, zygote=zygote)
    reports: list[Report] = []
    CountingRunner.alone = 0
    recalled = 0
    original = GraderPlugin._recall

    def counting_recall(self: GraderPlugin, *args: Any) -> Any:
        nonlocal recalled
        known = original(self, *args)
        recalled += known is not None
        return known

    plugin = GraderPlugin(
        assignment,
        [Job(s, assignment.names) for s in submissions],
        runner_factory=lambda s: CountingRunner(zygote, s.files, assignment.limits, grader._scratch),
        on_result=lambda job, results, layers, duration, notes: reports.append(
            grader._report(job, results, layers, duration, notes)
        ),
    )
    try:
        GraderPlugin._recall = counting_recall  # type: ignore[method-assign]
        run_session(plugin)
    finally:
        GraderPlugin._recall = original  # type: ignore[method-assign]
        grader._scratch.rmdir()
    return reports, CountingRunner.alone, recalled


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    with Zygote().start() as started:
        yield started


def test_the_reference_answers_every_planned_call_and_a_repeat_is_remembered(
    bundled: Assignment, zygote: Zygote
) -> None:
    reference = _submission(bundled, "reference")
    reports, alone, recalled = _grade_all(bundled, zygote, [reference, reference])
    assert reports[0].score == reports[0].max_score
    # Every call a check makes to a right answer was planned: none had to be made on its own...
    assert alone == 0
    # ... and the second, identical submission got every verdict from the first one's answers.
    assert recalled == len(reports[1].checks)
    assert _comparable(reports[0]) == _comparable(reports[1])


def test_remembered_verdicts_match_grading_each_submission_alone(
    bundled: Assignment, zygote: Zygote, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = list(SUBMISSIONS)
    submissions = [_submission(bundled, n) for n in [*names, *reversed(names)]]
    together, _, recalled = _grade_all(bundled, zygote, submissions)
    assert recalled > len(bundled.names)  # the memo was used, or this test would prove nothing
    # The same submissions, each graded in a session of its own with no plan and no memory.
    monkeypatch.setattr(plugin_module, "MEMO_ENTRIES", 0)
    monkeypatch.setattr(GraderPlugin, "_record_plans", lambda self, items: {})
    for name, report in zip([*names, *reversed(names)], together, strict=True):
        alone, made_alone, _ = _grade_all(bundled, zygote, [_submission(bundled, name)])
        assert made_alone > 0 or name == "stubs"
        assert _comparable(alone[0]) == _comparable(report), name
        assert alone[0].problems == report.problems, name
    by_name = dict(zip(names, together, strict=False))
    assert by_name["reference"].score == by_name["reference"].max_score
    failed = {c.function for c in by_name["numpy_shape"].checks if c.outcome is Outcome.FAILED}
    assert failed == {"tensor_shape"}
    printed = [c for c in by_name["printing"].checks if c.function == "apply_sigmoid"]
    assert all("shape" in c.output for c in printed)
    assert any("LogisticRegression" in note for note in by_name["own_classes"].problems)
    # Only checks that read several results of one request see the refilled tensor.
    refilled = {c.name for c in by_name["refilled_sigmoid"].checks if c.outcome is Outcome.FAILED}
    assert refilled == {"apply_sigmoid_answers_stay", "apply_sigmoid_any_tensor"}


def test_a_model_kept_in_the_worker_is_still_callable_after_a_later_call_crashes(
    bundled: Assignment, zygote: Zygote
) -> None:
    honest = (ROOT / "tests/corpus_modules/c04_own_module_classes/ex05_activations.py").read_text()
    honest += "\n\ndef apply_sigmoid(x):\n    return torch.sigmoid(x)\n\n\ndef apply_softmax(x, dim):\n"
    honest += "    return torch.softmax(x, dim=dim)\n"
    crashing = honest.replace(
        "def multiclass_classifier(n_features, n_classes):\n",
        "def multiclass_classifier(n_features, n_classes):\n    import os\n    os._exit(3)\n",
    )
    assert crashing != honest
    submissions = [build_submission({"ex05_activations.py": s.encode()}, bundled, name="s") for s in (honest, crashing)]
    reports, _, _ = _grade_all(bundled, zygote, submissions)

    def verdicts(report: Report, function: str) -> list[tuple[str, Outcome, str]]:
        return [(c.name, c.outcome, c.message) for c in report.checks if c.function == function]

    # The model binary_classifier returned stays in the worker (it has its own forward); the worker
    # dies when multiclass_classifier runs, ahead, yet the checks calling that model see it run.
    assert any(outcome is Outcome.PASSED for _, outcome, _ in verdicts(reports[0], "binary_classifier"))
    assert verdicts(reports[1], "binary_classifier") == verdicts(reports[0], "binary_classifier")
    multi = verdicts(reports[1], "multiclass_classifier")
    assert multi and all(outcome is Outcome.ERROR and "exit code 3" in message for _, outcome, message in multi)


def test_planned_calls_larger_than_the_socket_buffers_travel_in_one_exchange(zygote: Zygote) -> None:
    files = {"big.py": b"def echo(x):\n    return x + 1\n"}
    runner = SubmissionRunner(zygote, files, Limits(), make_root("plan-test-"))
    inputs = [torch.full((256, 256), float(i)) for i in range(24)]  # 256 KiB each way, per call: 6 MiB held
    plan = [
        PlannedCall("big", "echo", pack_request(call_request("big", "echo", (x,), {}, seed=i, return_args=False)))
        for i, x in enumerate(inputs)
    ]
    try:
        runner.expect([plan])
        runner.start_check(0)
        answers = runner.planned_answers(0)
        assert [a.status for a in answers] == ["ok"] * len(inputs)
        for i, x in enumerate(inputs):
            result = runner.call("big", "echo", (x,), seed=i)
            assert torch.equal(result.value, x + 1)
        assert runner.check_digests() is not None
        # A call the plan did not foresee still runs, on its own.
        assert runner.call("big", "echo", (torch.zeros(2),), seed=99).value.tolist() == [1.0, 1.0]
        assert runner.check_digests() is None
    finally:
        runner.close()
        runner.scratch_root.rmdir()


ONE_CHECK = """
from grader.checking import check


@check("double", points=1)
def check_double(student, reference):
    assert student.double(2) == {expected}
"""


def test_a_grader_remembers_across_runs_until_its_checks_change(make_assignment: Any) -> None:
    assignment = make_assignment(ONE_CHECK.format(expected=4))
    source = b"def double(x):\n    return x + x\n\ndef shout(text):\n    return text.upper() + '!'\n"
    recalled: list[bool] = []
    original = GraderPlugin._recall

    def counting_recall(self: GraderPlugin, *args: Any) -> Any:
        known = original(self, *args)
        recalled.append(known is not None)
        return known

    GraderPlugin._recall = counting_recall  # type: ignore[method-assign]
    try:
        with Grader(assignment) as grader:
            submission = build_submission({"ex_tiny.py": source}, assignment, name="s")
            first = grader.grade(submission)
            second = grader.grade(submission)
            # The teacher edits the check: what was remembered no longer holds.
            (assignment.checks_dir / "check_ex_tiny.py").write_text(ONE_CHECK.format(expected=5))
            third = grader.grade(submission)
    finally:
        GraderPlugin._recall = original  # type: ignore[method-assign]
    assert recalled == [False, True, False]
    assert first.checks[0].outcome is second.checks[0].outcome is Outcome.PASSED
    assert third.checks[0].outcome is Outcome.FAILED


def test_a_remembered_verdict_is_placed_as_replace_would_place_it() -> None:
    verdict = CheckResult("ex", "f", "name", Outcome.FAILED, 0.0, 2.0, "does", "wrong", "try", False, "out", 0.0)
    where = Location("ex.py", 3)
    placed = plugin_module._placed(verdict, 0.25, where)
    assert placed == dataclasses.replace(verdict, duration_s=0.25, location=where)
    assert type(placed) is CheckResult and vars(placed) == vars(dataclasses.replace(placed))
    assert verdict.duration_s == 0.0 and verdict.location is None  # the remembered one stays as it was


def test_grading_a_submission_reads_no_check_id_from_pytest(
    make_assignment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each check's id is read from pytest once a session: ``Item.nodeid`` makes its text anew at each read."""
    assignment = make_assignment(ONE_CHECK.format(expected=4))
    submission = build_submission({"ex_tiny.py": b"def double(x):\n    return x + x\n"}, assignment, name="s")
    reads = 0
    nodeid = Node.nodeid

    def counted(self: Node) -> str:
        nonlocal reads
        reads += 1
        return nodeid.fget(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(Node, "nodeid", property(counted))
    seen = []
    with Grader(assignment) as grader:
        grader.grade(submission)  # the plans recorded, the verdict remembered
        for count in (1, 4):
            reads = 0
            grader.run([Job(submission, assignment.names)] * count, lambda report: None)
            seen.append(reads)
    assert seen[0] == seen[1]


def test_a_session_selects_its_checks_once_for_every_student_of_a_selection(
    make_assignment: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assignment = make_assignment(ONE_CHECK.format(expected=4) + ONE_CHECK.replace("check_double", "check_again"))
    submission = build_submission({"ex_tiny.py": b"def double(x):\n    return x + x\n"}, assignment, name="s")
    asked = 0
    selects = Job.selects

    def counted(self: Job, info: Any) -> bool:
        nonlocal asked
        asked += 1
        return selects(self, info)

    monkeypatch.setattr(Job, "selects", counted)
    reports: list[Report] = []
    with Grader(assignment) as grader:
        grader.run(
            [Job(submission, assignment.names)] * 3 + [Job(submission, assignment.names, ("double",))], reports.append
        )
    assert asked == 2 * 2  # two selections of two checks, each looked at once
    assert [len(report.checks) for report in reports] == [2, 2, 2, 2]
    assert len({tuple(c.name for c in report.checks) for report in reports}) == 1
