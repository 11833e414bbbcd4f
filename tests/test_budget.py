"""Per-call time budgets: the own-time clock, the policy, and what a student reads, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import write_assignment

from grader.assignment import Assignment, load_assignment
from grader.grading import Grader
from grader.models import CheckResult, Outcome
from grader.sandbox.budget import CallTimer, OwnClock, describe_seconds, describe_timeout, nice_ceiling
from grader.sandbox.loading import (
    MAX_NOTICES,
    MAX_PRELOAD,
    MAX_RETRIES,
    NOTICE,
    Notices,
    Preload,
    TooManyNotices,
    notice,
)
from grader.submission import build_submission

# -- the policy, on a clock the test drives ------------------------------------------


class FakeClock(OwnClock):
    """A worker whose run delay and CPU time the test sets."""

    active = True

    def __init__(self) -> None:
        self.delay = 0.0
        self.cpu = 0.0

    def sample(self) -> tuple[float, float]:
        return self.cpu, self.delay

    def close(self) -> None:
        pass


class Now:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def timer(
    budget_s: float = 1.0, cap_s: float = 5.0, reference: float | None = None
) -> tuple[CallTimer, FakeClock, Now]:
    clock, now = FakeClock(), Now()
    asked: list[int] = []

    def reference_s() -> float | None:
        asked.append(1)
        assert len(asked) == 1, "the reference is timed at most once per call"
        return reference

    return CallTimer(clock, budget_s=budget_s, cap_s=cap_s, reference_s=reference_s, now=now), clock, now


def test_computing_gets_half_the_budget_and_sleeping_all_of_it() -> None:
    busy, clock, now = timer()
    now.t += 0.4
    clock.cpu = 0.4
    assert busy.remaining() > 0  # 0.4 s of computing: within half the budget
    now.t += 0.2
    clock.cpu = 0.6
    assert busy.remaining() == 0 and busy.expired == "cpu"
    assert "0.5 s of computing, the most a call may compute (it may run 1 s)" in describe_timeout(busy)
    asleep, clock, now = timer()
    now.t += 0.9  # asleep: no CPU time, so only own time counts
    assert asleep.remaining() > 0
    now.t += 0.2
    assert asleep.remaining() == 0 and asleep.expired == "budget"


def test_a_slow_exercise_may_compute_its_whole_raised_budget() -> None:
    call, clock, now = timer(reference=0.3)  # 10 x 0.3 s: 5 s at most (cap)
    now.t += 0.6
    clock.cpu = 0.6
    assert call.remaining() > 0 and call.raised and call.budget_s == 5.0
    now.t += 3.0
    clock.cpu = 3.6
    assert call.remaining() > 0


def test_waiting_for_a_cpu_does_not_spend_the_budget() -> None:
    call, clock, now = timer()
    now.t += 2.5
    clock.delay = 2.0  # 2.5 s of real time, 2 s of it waiting for a CPU: 0.5 s of its own
    assert call.remaining() == pytest.approx(0.5)
    assert not call.expired


def test_computing_or_sleeping_spends_it() -> None:
    call, clock, now = timer()
    now.t += 0.6
    clock.delay = 0.1
    assert call.remaining() > 0
    now.t += 0.6  # 1.2 s of real time, 1.1 s of its own
    assert call.remaining() == 0.0
    assert call.expired == "budget"
    assert call.budget_s == 1.0 and not call.raised
    assert call.reference is None  # no reference function: nothing to measure


def test_a_slow_reference_raises_the_budget_to_a_round_multiple() -> None:
    call, _, now = timer(reference=0.15)
    now.t += 1.0
    assert call.remaining() == pytest.approx(1.0)  # now 2 s: 10 x 0.15 s, rounded up to 1, 2 or 5
    assert call.raised and call.budget_s == 2.0
    now.t += 1.0
    assert call.remaining() == 0.0 and call.expired == "budget"


def test_a_call_found_late_while_the_reference_was_timed_says_the_grader_looked_away() -> None:
    clock, now = FakeClock(), Now()

    def slow_to_time() -> float:
        now.t += 1.5  # the grader, starved, took this long to time the reference: own time ran on meanwhile
        return 0.15

    call = CallTimer(clock, budget_s=1.0, cap_s=5.0, reference_s=slow_to_time, now=now)
    now.t += 1.0
    assert call.remaining() == 0.0 and call.budget_s == 2.0 and call.looked_away
    assert call.remaining() == 0.0 and not call.looked_away  # only the call that timed the reference says so
    plain, _, now = timer()
    now.t += 1.0
    assert plain.remaining() == 0.0 and not plain.looked_away


def test_the_teachers_timeout_caps_every_budget() -> None:
    call, _, now = timer(reference=30.0)
    now.t += 1.0
    call.remaining()
    assert call.budget_s == 5.0
    small, _, _ = timer(budget_s=1.0, cap_s=0.5)
    assert small.budget_s == 0.5


def test_a_fast_reference_leaves_the_floor() -> None:
    call, _, now = timer(reference=3e-6)
    now.t += 1.0
    assert call.remaining() == 0.0
    assert call.budget_s == 1.0 and not call.raised and call.reference == 3e-6


def test_real_time_has_a_backstop_however_busy_the_machine() -> None:
    call, clock, now = timer(budget_s=1.0, cap_s=5.0)
    now.t += 10.0
    clock.delay = 9.5  # only 0.5 s of its own, but 10 s of real time: max(timeout_s, 10 x budget)
    assert call.remaining() == 0.0
    assert call.expired == "wall"
    text = describe_timeout(call, earlier=0)
    assert "10 s of real time, most of it spent waiting for a CPU" in text
    assert "machine" not in text  # the waiting may be the call's own threads'


@pytest.mark.parametrize(
    ("seconds", "rounded"), [(0.3, 0.5), (1.0, 1.0), (1.01, 2.0), (1.5, 2.0), (2.5, 5.0), (6.0, 10.0), (0.0012, 0.002)]
)
def test_nice_ceiling(seconds: float, rounded: float) -> None:
    assert nice_ceiling(seconds) == rounded


def test_durations_are_coarse_enough_to_read_the_same_every_run() -> None:
    assert describe_seconds(3e-6) == describe_seconds(9e-4) == "under a millisecond"
    assert describe_seconds(0.03) == "about 30 ms"
    assert describe_seconds(2.2) == "about 2 s"


def test_messages_say_what_happened() -> None:
    first, _, now = timer(reference=3e-6)
    now.t += 1.0
    first.remaining()
    text = describe_timeout(first, earlier=0)
    assert text.startswith("timed out after 1 s (an endless loop, or far too slow?")
    assert "The reference solution answers in under a millisecond." in text
    slow, _, now = timer(reference=0.15)
    now.t += 3.0
    slow.remaining()
    assert describe_timeout(slow, earlier=0).startswith(
        "timed out after 2 s, 10 times what the reference solution takes"
    )
    capped, _, now = timer(budget_s=1.0, cap_s=0.5)
    now.t += 1.0
    capped.remaining()
    assert "after 0.5 s, the assignment's limit per call" in describe_timeout(capped, earlier=0)
    again, _, now = timer(budget_s=0.1)
    now.t += 0.2
    again.remaining()
    assert describe_timeout(again, earlier=1).startswith("timed out again, after 0.1 s")


def test_own_clock_reads_the_kernels_run_delay() -> None:
    clock = OwnClock(os.getpid())
    try:
        if not clock.active:
            pytest.skip("this kernel keeps no scheduler run delays (own time is real time here)")
        assert clock.run_delay_s() >= 0.0
    finally:
        clock.close()
    gone = OwnClock(2**22 + 12345)  # above pid_max's default: no such process
    assert not gone.active and gone.run_delay_s() == 0.0


# -- end to end, in the sandbox --------------------------------------------------------

SHOUT = "\n\ndef shout(text):\n    return text.upper() + '!'\n"
#: 0.4 s asleep per call.
SLEEPING = "import time\n    time.sleep(0.4)\n    return x + x"
#: 0.3 s of CPU per call in a Python loop (counted in CPU time, so it is 0.3 s on any machine and load).
CPU_BOUND = """import time
    end, n = time.thread_time() + 0.3, 0
    while time.thread_time() < end:
        for i in range(1000):
            n += i * i
    return x + x"""


def grade(grader: Grader, assignment: Assignment, double_body: str, name: str = "student") -> dict[str, CheckResult]:
    source = f"def double(x):\n    {double_body}{SHOUT}".encode()
    report = grader.grade(build_submission({"ex_tiny.py": source}, assignment, name=name))
    return {c.name: c for c in report.checks}


@pytest.fixture
def burners() -> Iterator[None]:
    """Two CPU burners on this 2-core machine for as long as the test runs: a busy machine."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("body", ["while True:\n        pass", "import time\n    time.sleep(3600)"])
def test_a_hang_gets_one_budget_then_short_ones(tiny: Assignment, tiny_grader: Grader, body: str) -> None:
    result = grade(tiny_grader, tiny, body)
    first, later = result["double_values"], result["double_int"]
    assert first.outcome is later.outcome is Outcome.TIMEOUT
    if "sleep" in body:  # own time runs out: a second
        assert first.message.startswith("double timed out after 1 s (an endless loop, or far too slow?")
        assert later.message.startswith("double timed out again, after 0.1 s")
    else:  # a busy loop computes: half of it
        assert first.message.startswith(
            "double timed out after 0.5 s of computing, the most a call may compute (it may run 1 s) "
            "(an endless loop, or far too slow?"
        )
        assert later.message.startswith("double timed out again, after 0.05 s of computing")
    assert "The reference solution answers in under a millisecond." in first.message
    assert result["shout"].outcome is result["shout_hidden"].outcome is Outcome.PASSED


@pytest.mark.slow
def test_a_function_that_hangs_on_some_inputs_keeps_the_others(tiny: Assignment, tiny_grader: Grader) -> None:
    # Floats loop forever; integers come back at once, within the short budget after the timeout.
    result = grade(tiny_grader, tiny, "while x.is_floating_point():\n        pass\n    return x + x")
    assert result["double_values"].outcome is Outcome.TIMEOUT
    assert result["double_int"].outcome is Outcome.PASSED


FOUR_CALLS = """
import torch
from grader.checking import check


@check("double", points=1)
def check_first(student, reference):
    assert torch.equal(student.double(torch.ones(2)), reference.double(torch.ones(2)))


@check("double", points=1)
def check_second(student, reference):
    assert torch.equal(student.double(torch.ones(3)), reference.double(torch.ones(3)))


@check("double", points=1)
def check_third(student, reference):
    assert torch.equal(student.double(torch.ones(4)), reference.double(torch.ones(4)))


@check("double", points=1)
def check_integers(student, reference):
    assert torch.equal(student.double(torch.arange(3)), reference.double(torch.arange(3)))
"""


@pytest.mark.slow
def test_after_two_timeouts_later_calls_get_a_fiftieth_and_quick_ones_still_pass(
    make_assignment: Callable[[str], Assignment],
) -> None:
    assignment = make_assignment(FOUR_CALLS)
    # Floats loop forever; integers come back at once, well within the shortest budget.
    source = b"def double(x):\n    while x.is_floating_point():\n        pass\n    return x + x\n" + SHOUT.encode()
    with Grader(assignment) as grader:
        report = grader.grade(build_submission({"ex_tiny.py": source}, assignment, name="looper"))
    result = {c.name: c for c in report.checks}
    assert result["first"].message.startswith("double timed out after 0.5 s of computing")
    assert result["second"].message.startswith(
        "double timed out again, after 0.05 s of computing: "
        "once a function has timed out once, its later calls get 0.1 s"
    )
    assert result["third"].message.startswith(
        "double timed out again, after 0.01 s of computing: "
        "once a function has timed out twice, its later calls get 0.02 s"
    )
    assert result["integers"].outcome is Outcome.PASSED


@pytest.mark.slow
@pytest.mark.parametrize("busy", [False, True], ids=["idle", "two-burners"])
@pytest.mark.parametrize("body", [SLEEPING, CPU_BOUND], ids=["sleep", "cpu"])
def test_slow_but_correct_code_passes_idle_and_busy(
    tiny: Assignment, tiny_grader: Grader, request: pytest.FixtureRequest, body: str, busy: bool
) -> None:
    if busy:
        request.getfixturevalue("burners")
    result = grade(tiny_grader, tiny, body)
    assert [(c.name, c.message) for c in result.values() if c.outcome is not Outcome.PASSED] == []


@pytest.mark.slow
def test_a_hang_reads_the_same_on_every_run_and_load(
    tiny: Assignment, tiny_grader: Grader, request: pytest.FixtureRequest
) -> None:
    idle = grade(tiny_grader, tiny, "while True:\n        pass")
    request.getfixturevalue("burners")
    busy = grade(tiny_grader, tiny, "while True:\n        pass")
    assert {n: (c.outcome, c.message) for n, c in idle.items()} == {n: (c.outcome, c.message) for n, c in busy.items()}


@pytest.mark.slow
def test_the_teachers_timeout_is_the_upper_bound(tiny: Assignment, tiny_grader: Grader, tmp_path: Path) -> None:
    slow = "import time\n    time.sleep(0.8)\n    return x + x"
    assert grade(tiny_grader, tiny, slow)["double_values"].outcome is Outcome.PASSED  # 0.8 s < the 1 s floor
    strict = load_assignment(write_assignment(tmp_path / "strict", timeout_s=0.5))
    with Grader(strict) as grader:
        result = grade(grader, strict, slow)
    assert result["double_values"].outcome is Outcome.TIMEOUT
    assert "timed out after 0.5 s, the assignment's limit per call" in result["double_values"].message


SLOW_REFERENCE = """
import time


def double(x):
    end = time.thread_time() + 0.15  # 0.15 s of CPU: an exercise whose answer takes time to compute
    while time.thread_time() < end:
        pass
    return 2 * x


def shout(text):
    return text.upper() + "!"
"""


@pytest.mark.slow
def test_a_slow_exercise_gets_ten_times_its_references_time(tmp_path: Path) -> None:
    root = write_assignment(tmp_path / "slow", timeout_s=5.0)
    (root / "solutions" / "ex_tiny.py").write_text(SLOW_REFERENCE)
    slow = load_assignment(root)
    with Grader(slow) as grader:
        patient = grade(grader, slow, "import time\n    time.sleep(1.3)\n    return x + x", name="patient")
        hung = grade(grader, slow, "while True:\n        pass", name="hung")
    assert patient["double_values"].outcome is Outcome.PASSED  # 1.3 s > the 1 s floor, < 2 s = 10 x 0.15 s
    assert hung["double_values"].outcome is Outcome.TIMEOUT
    assert hung["double_values"].message.startswith("double timed out after 2 s, 10 times what the reference")


@pytest.mark.slow
def test_an_answer_that_came_while_the_reference_was_timed_is_read_not_timed_out(tmp_path: Path) -> None:
    # A 1.3 s sleeper against a 1 s floor: the grader times the reference at 1 s and, starved here
    # for 1.5 s, finds own time (2.5 s) past the raised budget (2 s) when it looks again. The answer
    # came at 1.3 s, while it was not watching: it is read, not taken for a timeout.
    import time

    from grader.sandbox.client import Zygote
    from grader.sandbox.limits import Limits
    from grader.sandbox.request import pack_request
    from grader.sandbox.runner import Worker, call_request

    def starved_timing() -> float:
        time.sleep(1.5)
        return 0.15

    source = b"import time\n\ndef nap():\n    time.sleep(1.3)\n    return 7\n"
    with Zygote().start() as zygote:
        worker = Worker(zygote, scratch_root=tmp_path, limits=Limits())
        try:
            worker.init({"napper.py": source}, timeout_s=30)
            assert worker.request({"op": "import", "module": "napper"}, timeout_s=30)["status"] == "ok"
            call = CallTimer(worker.clock, budget_s=1.0, cap_s=5.0, reference_s=starved_timing)
            request = pack_request(call_request("napper", "nap", (), None, seed=0, return_args=False))
            answer = worker.request(request, timeout_s=call)
        finally:
            worker.kill()
    assert answer["status"] == "ok" and answer["value"] == 7
    assert call.budget_s == 2.0 and call.expired == "budget"  # it was late by the clock, and looked for


# -- loading a library is not the student's time -------------------------------------

#: A module that takes 1.5 s of CPU to load: longer than the 1 s budget, as torch._dynamo is on a slow machine.
SLOW_TO_LOAD = """import time
_end = time.thread_time() + 1.5
while time.thread_time() < _end:
    pass
"""


def grade_with(
    grader: Grader, assignment: Assignment, double_body: str, files: dict[str, str]
) -> dict[str, CheckResult]:
    sources = {"ex_tiny.py": f"def double(x):\n    {double_body}{SHOUT}".encode()}
    sources.update({name: text.encode() for name, text in files.items()})
    report = grader.grade(build_submission(sources, assignment, name="student"))
    return {c.name: c for c in report.checks}


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assignment, Grader]]:
    """The tiny assignment with 5 s per call: loading torch._dynamo first, on a busy machine, takes more than 2."""
    assignment = load_assignment(write_assignment(tmp_path_factory.mktemp("roomy"), timeout_s=5))
    with Grader(assignment) as grader:
        yield assignment, grader


@pytest.mark.slow
def test_loading_a_module_during_a_call_does_not_spend_its_budget(roomy: tuple[Assignment, Grader]) -> None:
    assignment, grader = roomy
    result = grade_with(grader, assignment, "import slowlib\n    return x + x", {"slowlib.py": SLOW_TO_LOAD})
    assert [(c.name, c.message) for c in result.values() if c.outcome is not Outcome.PASSED] == []


@pytest.mark.slow
def test_torchs_first_optimizer_is_not_the_students_time(roomy: tuple[Assignment, Grader]) -> None:
    # optim.SGD(...) first imports torch._dynamo (about a second of CPU here), in every fresh worker:
    # the call runs out of its budget, and once more in a worker that loaded torch._dynamo first.
    assignment, grader = roomy
    body = (
        "import torch\n    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).zero_grad()\n    return x + x"
    )
    result = grade(grader, assignment, body)
    assert [(c.name, c.message) for c in result.values() if c.outcome is not Outcome.PASSED] == []


@pytest.mark.slow
def test_a_module_that_never_finishes_loading_times_out_on_the_budget(tmp_path: Path) -> None:
    strict = load_assignment(write_assignment(tmp_path / "strict", timeout_s=2))
    with Grader(strict) as grader:
        result = grade_with(grader, strict, "import hangs\n    return x + x", {"hangs.py": "while True:\n    pass\n"})
    first = result["double_values"]
    assert first.outcome is Outcome.TIMEOUT
    # Tried once more with hangs loaded first (module-level code: the 2 s limit), then on the budget again.
    assert first.message.startswith("double timed out after 0.5 s of computing")
    assert result["shout"].outcome is Outcome.PASSED


# -- what a worker says about loading cannot move a budget ------------------------------

#: Student code that sends the grader frames of its own: notices that a module is loading (``loading.NOTICE``),
#: and the markers an earlier grader paused the budget for. The socket is the only one a worker holds.
FORGE = r"""
import os, stat, struct

def _forge(*payloads, times=1):
    frames = b"".join(struct.pack(">Q", len(p)) + p for p in payloads) * times
    for fd in range(64):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.write(fd, frames) if len(frames) < 65536 else _write_all(fd, frames)
        except OSError:
            pass

def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]

LOADING = b"\xff\xffloading torch._dynamo"
OLD_START, OLD_END = b"\xff\xffimport+", b"\xff\xffimport-"
"""
#: 1.6 s of CPU per call: a correct answer, three times too slow for its budget.
SLOW_MODEL = """_forge(LOADING)
    import time
    end = time.thread_time() + 1.6
    while time.thread_time() < end:
        pass
    return x + x"""


def grade_forging(grader: Grader, assignment: Assignment, double_body: str) -> dict[str, CheckResult]:
    source = f"{FORGE}\n\ndef double(x):\n    {double_body}{SHOUT}".encode()
    report = grader.grade(build_submission({"ex_tiny.py": source}, assignment, name="forger"))
    return {c.name: c for c in report.checks}


def assert_earned_nothing(result: dict[str, CheckResult], outcome: Outcome) -> None:
    doubles = [result["double_values"], result["double_int"]]
    assert [c.outcome for c in doubles] == [outcome, outcome], [c.message for c in doubles]
    assert all(c.points == 0 for c in doubles)
    for check in doubles:
        assert "machine" not in check.message and "busy" not in check.message, check.message
    assert result["shout"].outcome is result["shout_hidden"].outcome is Outcome.PASSED


@pytest.mark.slow
def test_forged_notices_around_a_slow_model_earn_nothing(tiny: Assignment, tiny_grader: Grader) -> None:
    result = grade_forging(tiny_grader, tiny, SLOW_MODEL)
    assert_earned_nothing(result, Outcome.TIMEOUT)
    # One more try with torch._dynamo loaded first, on the same budget; then the short one of a repeat.
    assert result["double_values"].message.startswith("double timed out after 0.5 s of computing")
    assert result["double_int"].message.startswith("double timed out again, after 0.05 s of computing")


@pytest.mark.slow
def test_forged_notices_around_an_endless_loop_buy_one_budget_at_most(tiny: Assignment, tiny_grader: Grader) -> None:
    result = grade_forging(tiny_grader, tiny, "_forge(LOADING)\n    while True:\n        pass")
    assert_earned_nothing(result, Outcome.TIMEOUT)
    assert result["double_values"].message.startswith("double timed out after 0.5 s of computing")
    assert result["double_int"].message.startswith("double timed out again, after 0.05 s of computing")


@pytest.mark.slow
def test_the_old_markers_are_no_answer(tiny: Assignment, tiny_grader: Grader) -> None:
    result = grade_forging(tiny_grader, tiny, "_forge(OLD_START)\n    while True:\n        pass")
    assert_earned_nothing(result, Outcome.ERROR)
    assert "its answer was not readable" in result["double_values"].message


@pytest.mark.slow
def test_a_flood_of_forged_notices_is_read_only_up_to_its_bound(tiny: Assignment, tiny_grader: Grader) -> None:
    # Two million notices: the grader reads 257 of them, then stops the worker.
    result = grade_forging(tiny_grader, tiny, "_forge(LOADING, times=2_000_000)\n    return x + x")
    assert_earned_nothing(result, Outcome.ERROR)
    assert f"sent more than {MAX_NOTICES} notices of loading a module" in result["double_values"].message


@pytest.mark.slow
def test_an_honest_student_after_the_forgers_keeps_full_marks(tiny: Assignment, tiny_grader: Grader) -> None:
    grade_forging(tiny_grader, tiny, "_forge(LOADING, times=1000)\n    return x + x")
    result = grade(tiny_grader, tiny, "return x + x", name="honest")
    assert all(c.outcome is Outcome.PASSED for c in result.values())


def test_notices_are_counted_and_their_names_bounded() -> None:
    notices = Notices()
    assert not notices.take(b"\x00\x00\x00\x02{}")  # an answer
    names = [f"mod{i}" for i in range(MAX_PRELOAD + 3)]
    for frame in [notice("torch._dynamo"), notice("torch._dynamo"), notice("no/such"), NOTICE + b"x" * 300]:
        assert notices.take(frame)
    for name in names:
        assert notices.take(notice(name))
    assert notices.pending == ["torch._dynamo", *names[: MAX_PRELOAD - 1]]
    notices.answered()
    assert notices.pending == []
    with pytest.raises(TooManyNotices):
        for _ in range(MAX_NOTICES):
            notices.take(notice("torch"))


def test_each_function_gets_one_more_try_and_a_submission_a_few() -> None:
    preload = Preload()
    assert preload.more_try([], ("ex", "f")) == []  # nothing named: no more try
    assert preload.more_try(["torch._dynamo"], ("ex", "f")) == ["torch._dynamo"]
    assert preload.more_try(["scipy"], ("ex", "f")) == []  # f had its try
    assert preload.more_try(["torch._dynamo"], ("ex", "g")) == []  # already loaded first: no more try for it
    preload.useless(["torch._dynamo"])  # it did not help: fresh workers do not load it, nor does another try
    assert preload.names == []
    assert preload.more_try(["torch._dynamo"], ("ex", "g")) == []
    tries = [preload.more_try([f"m{i}"], ("ex", f"h{i}")) for i in range(MAX_RETRIES + 2)]
    assert sum(bool(t) for t in tries) == MAX_RETRIES - 1
