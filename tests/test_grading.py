"""The engine end to end on a tiny assignment: outcomes, isolation of failures, determinism."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import pickle
from collections.abc import Callable

import pytest

from grader.assignment import Assignment
from grader.engine import receive_submission, send_submission
from grader.grading import Grader
from grader.models import Outcome, Report
from grader.plugin import HIDDEN_MESSAGE, GraderPlugin, Job
from grader.submission import Submission, build_submission

pytestmark = pytest.mark.slow

CORRECT = b"def double(x):\n    return x + x\n\ndef shout(text):\n    return f'{text.upper()}!'\n"


def submit(tiny: Assignment, source: bytes, name: str = "student") -> Submission:
    return build_submission({"ex_tiny.py": source}, tiny, name=name)


def outcomes(report: Report) -> dict[str, Outcome]:
    return {c.name: c.outcome for c in report.checks}


def test_correct_submission_gets_full_marks(tiny: Assignment, tiny_grader: Grader) -> None:
    report = tiny_grader.grade(submit(tiny, CORRECT))
    assert set(outcomes(report).values()) == {Outcome.PASSED}
    assert report.score == report.max_score == 5.0
    assert report.student == "student"


def test_stub_is_not_attempted(tiny: Assignment, tiny_grader: Grader) -> None:
    report = tiny_grader.grade(submit(tiny, tiny.exercise("ex_tiny").stub.read_bytes()))
    assert set(outcomes(report).values()) == {Outcome.NOT_ATTEMPTED}
    assert report.score == 0


def test_missing_module_is_not_attempted(tiny: Assignment, tiny_grader: Grader) -> None:
    report = tiny_grader.grade(build_submission({}, tiny, name="nobody"))
    assert set(outcomes(report).values()) == {Outcome.NOT_ATTEMPTED}


def test_wrong_value_fails_with_expected_and_got(tiny: Assignment, tiny_grader: Grader) -> None:
    source = b"def double(x):\n    return x\n\ndef shout(text):\n    return text.upper() + '!'\n"
    report = tiny_grader.grade(submit(tiny, source))
    result = {c.name: c for c in report.checks}
    assert result["double_values"].outcome is Outcome.FAILED
    assert "double(x)" in result["double_values"].message
    assert result["double_values"].hint
    assert result["shout"].outcome is Outcome.PASSED
    assert report.score == 2.0


def test_hidden_check_reveals_only_its_verdict(tiny: Assignment, tiny_grader: Grader) -> None:
    source = b"def double(x):\n    return 2 * x\n\ndef shout(text):\n    print('PRINTED', text)\n    return 'HI!'\n"
    report = tiny_grader.grade(submit(tiny, source))
    hidden = next(c for c in report.checks if c.name == "shout_hidden")
    assert hidden.outcome is Outcome.FAILED and hidden.hidden
    assert hidden.message == HIDDEN_MESSAGE
    assert "secret-input-xyz" not in json.dumps(report.to_dict())


def test_student_exception_is_an_error_with_its_reason(tiny: Assignment, tiny_grader: Grader) -> None:
    source = (
        b"def double(x):\n    raise ValueError('no doubles today')\n\ndef shout(text):\n    return text.upper() + '!'\n"
    )
    report = tiny_grader.grade(submit(tiny, source))
    result = {c.name: c for c in report.checks}
    assert result["double_values"].outcome is Outcome.ERROR
    assert "ValueError: no doubles today" in result["double_values"].message
    assert result["shout"].outcome is Outcome.PASSED


@pytest.mark.parametrize(
    ("body", "outcome", "reason"),
    [
        ("while True:\n        pass", Outcome.TIMEOUT, "timed out"),
        ("import time; time.sleep(60)", Outcome.TIMEOUT, "timed out"),
        ("import os; os._exit(0)", Outcome.ERROR, "exit"),
        ("import ctypes; ctypes.string_at(0)", Outcome.ERROR, "segmentation fault"),
        ("import torch; return torch.empty(2**40)", Outcome.ERROR, "memory"),
    ],
)
def test_hang_or_crash_fails_only_the_calls_that_made_it(
    tiny: Assignment, tiny_grader: Grader, body: str, outcome: Outcome, reason: str
) -> None:
    source = f"def double(x):\n    {body}\n\ndef shout(text):\n    return text.upper() + '!'\n".encode()
    report = tiny_grader.grade(submit(tiny, source))
    result = {c.name: c for c in report.checks}
    assert result["double_values"].outcome is outcome
    assert reason in result["double_values"].message
    assert result["shout"].outcome is Outcome.PASSED
    assert result["shout_hidden"].outcome is Outcome.PASSED


def test_an_answer_trickled_byte_by_byte_still_times_out(tiny: Assignment, tiny_grader: Grader) -> None:
    # The student writes to its own channel: a frame header, then one byte at a
    # time. Each byte arrives well within the timeout; the call as a whole must not.
    source = b"""import os, stat, time
def double(x):
    channel = next(fd for fd in range(3, 256) if _is_socket(fd))
    os.write(channel, (100).to_bytes(8, "big"))
    while True:
        os.write(channel, b"x")
        time.sleep(0.2)

def _is_socket(fd):
    try:
        return stat.S_ISSOCK(os.fstat(fd).st_mode)
    except OSError:
        return False

def shout(text):
    return text.upper() + "!"
"""
    report = tiny_grader.grade(submit(tiny, source))
    result = {c.name: c for c in report.checks}
    assert result["double_values"].outcome is Outcome.TIMEOUT
    assert "timed out after 1 s" in result["double_values"].message
    assert result["shout"].outcome is Outcome.PASSED


@pytest.mark.parametrize(
    "source",
    [b"def double(x) return 2 * x\n", b"import sys\nsys.exit(0)\n", b"\xff\xfe not utf-8 \x00"],
)
def test_unloadable_module_fails_every_check_with_a_reason(
    tiny: Assignment, tiny_grader: Grader, source: bytes
) -> None:
    report = tiny_grader.grade(submit(tiny, source))
    assert all(c.outcome is Outcome.ERROR for c in report.checks)
    assert all("could not be loaded" in c.message for c in report.checks if not c.hidden)


def test_batch_keeps_students_apart(tiny: Assignment, tiny_grader: Grader) -> None:
    poison = (
        b"import torch, builtins, os\n"
        b"torch.allclose = lambda *a, **k: True\n"
        b"builtins.len = lambda *a: 0\n"
        b"open(os.path.join(os.environ.get('TMPDIR', '/tmp'), 'poison'), 'w').write('x')\n"
        b"def double(x):\n    return x\n\ndef shout(text):\n    return 'no'\n"
    )
    jobs = [
        Job(submit(tiny, poison, "mallory"), tiny.names),
        Job(submit(tiny, CORRECT, "alice"), tiny.names),
    ]
    reports: list[Report] = []
    tiny_grader.run(jobs, reports.append)
    assert [r.student for r in reports] == ["mallory", "alice"]
    assert reports[0].score == 0
    assert reports[1].score == reports[1].max_score


def test_grading_is_deterministic(tiny: Assignment, tiny_grader: Grader) -> None:
    source = (
        b"import torch\ndef double(x):\n    return x * 2 + torch.rand(1) * 1e-3\n\ndef shout(text):\n    return text\n"
    )

    def stable(report: Report) -> list[tuple[str, str, str]]:
        return [(c.name, c.outcome.value, c.message) for c in report.checks]

    first = tiny_grader.grade(submit(tiny, source))
    second = tiny_grader.grade(submit(tiny, source))
    assert stable(first) == stable(second)


def test_printed_output_is_kept_for_the_check_that_made_it(tiny: Assignment, tiny_grader: Grader) -> None:
    source = (
        b"def double(x):\n    print('debug: got', tuple(x.shape))\n    return x\n\ndef shout(text):\n    return 'x'\n"
    )
    report = tiny_grader.grade(submit(tiny, source))
    result = {c.name: c for c in report.checks}
    assert "debug: got (3, 4)" in result["double_values"].output
    assert result["shout"].output == ""


PYTEST_FEATURE_CHECKS = """
import pytest
import torch
from grader.checking import check


@pytest.fixture
def inputs():
    return torch.arange(4.0)


@check("double", points=1)
def check_double_plain(student, reference):
    assert torch.equal(student.double(torch.ones(2)), reference.double(torch.ones(2)))


@check("double", points=1)
def check_double_with_own_fixture(student, reference, inputs, tmp_path):
    (tmp_path / "seen").write_text("x")
    assert torch.equal(student.double(inputs), reference.double(inputs))


@check("shout", points=1)
@pytest.mark.parametrize("word", ["hi", "torch"])
def check_shout_parametrized(student, reference, word):
    assert student.shout(word) == reference.shout(word)


@check("shout", points=1)
def check_shout_reference_only(reference):
    assert reference.shout("a") == "A!"
"""


def test_checks_may_use_pytest_fixtures_and_parametrize(make_assignment: Callable[[str], Assignment]) -> None:
    # Checks taking only student/reference skip pytest's set-up machinery; any
    # other fixture or a parametrization must still get pytest's own.
    assignment = make_assignment(PYTEST_FEATURE_CHECKS)
    wrong = b"def double(x):\n    return x\n\ndef shout(text):\n    return text\n"
    with Grader(assignment) as grader:
        good = grader.grade(submit(assignment, CORRECT))
        bad = grader.grade(submit(assignment, wrong))
    names = [c.name for c in good.checks]
    assert names == [
        "double_plain",
        "double_with_own_fixture",
        "shout_parametrized[hi]",
        "shout_parametrized[torch]",
        "shout_reference_only",
    ]
    assert {c.name: c.outcome for c in good.checks} == dict.fromkeys(names, Outcome.PASSED)
    assert {c.name: c.outcome for c in bad.checks} == {
        "double_plain": Outcome.FAILED,
        "double_with_own_fixture": Outcome.FAILED,
        "shout_parametrized[hi]": Outcome.FAILED,
        "shout_parametrized[torch]": Outcome.FAILED,
        "shout_reference_only": Outcome.PASSED,
    }


def test_verdicts_a_session_learned_from_another_are_its_own(
    tiny: Assignment, tiny_grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's grading processes share verdicts (``engine.serve``): taught ones give the same report, no check run."""
    source = b"def double(x):\n    return x\n\ndef shout(text):\n    return text.upper() + '!'\n"
    ran: list[str] = []
    original = GraderPlugin._call_directly

    def counting(self: GraderPlugin, item: pytest.Item) -> BaseException | None:
        if self._current is not None and self._current.submission.name != "reference":
            ran.append(item.name)
        return original(self, item)

    monkeypatch.setattr(GraderPlugin, "_call_directly", counting)
    teacher, learner, control = (tiny_grader.sharing(tiny) for _ in range(3))
    teacher.share_verdicts()
    first = teacher.grade(submit(tiny, source, "first"))
    taught = teacher.reached_verdicts()
    assert taught and teacher.reached_verdicts() == []  # handed out once
    for session in (learner, control):
        session.run([], lambda report: None)  # collected, plans recorded: its memory is this assignment's
    learner.learn_verdicts(pickle.loads(pickle.dumps(taught)))  # as they cross between processes
    ran.clear()
    learned = learner.grade(submit(tiny, source, "second"))
    assert ran == []
    control.grade(submit(tiny, source, "third"))
    assert ran  # without them, the same answers run the checks
    assert [dataclasses.replace(c, duration_s=0) for c in learned.checks] == [
        dataclasses.replace(c, duration_s=0) for c in first.checks
    ]


def test_a_submission_carries_the_verdicts_learned_elsewhere() -> None:
    ours, theirs = multiprocessing.Pipe()
    sent = Submission(name="s", files={"a.py": b"x = 1\n", "b.py": b""}, exercises=("a",))
    send_submission(ours, sent, [b"one", b"two"])
    heard: list[list[bytes]] = []
    assert receive_submission(theirs, heard.append) == sent
    assert heard == [[b"one", b"two"]]
    send_submission(ours, sent)
    assert receive_submission(theirs, heard.append) == sent and len(heard) == 1  # nothing learned: no call
    send_submission(ours, None)
    assert receive_submission(theirs) is None


def test_a_session_switched_to_another_zygote_closes_the_client_it_had(tiny: Assignment) -> None:
    # A forked grading process inherits its parent's session, whose zygote client is the parent's control
    # channel: it switches to its own, and the one it inherited is closed in it, not left open.
    closed: list[str] = []

    class Client:
        def __init__(self, name: str) -> None:
            self.name = name

        def close(self) -> None:
            closed.append(self.name)

    grader = Grader(tiny, zygote=Client("inherited"))  # type: ignore[arg-type]
    grader.switch_zygote(Client("own"))  # type: ignore[arg-type]
    assert closed == ["inherited"]
    assert grader.zygote.name == "own"  # type: ignore[attr-defined]
    grader.close()
    assert closed == ["inherited", "own"]
