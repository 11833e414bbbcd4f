"""A helper process's death is never the student's fault: zygote, grading process and worker killed mid-call.

Each fault test kills, with SIGKILL, only a process this test started (its
own zygote, a grading process that zygote forked, a worker), at the moment a
student's call is running, and asserts the outcome a clean run gives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.batch import grade_class
from grader.errors import HelperLost
from grader.grading import Grader
from grader.models import Outcome, Report
from grader.sandbox.client import Zygote
from grader.sandbox.death import Exit, explain
from grader.sandbox.limits import Limits
from grader.sandbox.runner import Worker
from grader.submission import build_submission

CORRECT = "def double(x):\n    return x + x\n\ndef shout(text):\n    return text.upper() + '!'\n"
#: Says "I am running" (its pid, in its scratch folder: the worker's cwd), then takes a moment.
MARKING = (
    "import os, time\n"
    "def double(x):\n"
    "    with open('pid', 'w') as f:\n"
    "        f.write(str(os.getpid()))\n"
    "    time.sleep(0.3)\n"
    "    return x + x\n\n"
    "def shout(text):\n    return text.upper() + '!'\n"
)
LIMITS = Limits()


def _exited(code: int) -> int:
    """A wait status: exited with ``code`` (one killed by a signal is the signal's number)."""
    return code << 8


# -- whose fault: the evidence ------------------------------------------------------


def test_a_students_own_exit_or_crash_signal_is_theirs() -> None:
    for status in (_exited(0), _exited(3), signal.SIGSEGV, signal.SIGABRT):
        assert explain(Exit(status), LIMITS).fault == "student"


def test_a_sigkill_at_the_cpu_or_memory_limit_is_the_students() -> None:
    cpu = explain(Exit(signal.SIGKILL, cpu_s=LIMITS.cpu_s), LIMITS)
    memory = explain(Exit(signal.SIGKILL, grew_mib=LIMITS.memory_mib * 0.9), LIMITS)
    assert (cpu.fault, memory.fault) == ("student", "student")
    assert "CPU time limit" in cpu.reason
    assert "ran out of memory" in memory.reason


def test_an_unexplained_sigkill_is_retried_then_charged_only_if_it_happens_again() -> None:
    first = explain(Exit(signal.SIGKILL, cpu_s=0.1, grew_mib=3), LIMITS)
    second = explain(Exit(signal.SIGKILL, cpu_s=0.1, grew_mib=3), LIMITS, again=True)
    assert first.fault == "unexplained"
    assert first.reason == "the sandbox process was killed from outside (SIGKILL)"
    assert second.fault == "student"
    assert "happened again when graded a second time" in second.reason


def test_a_lost_zygote_is_never_the_students_doing() -> None:
    for again in (False, True):
        assert explain(Exit(zygote_lost=True), LIMITS, again=again).fault == "helper"


def test_a_call_the_grader_stopped_says_so() -> None:
    death = explain(Exit(signal.SIGKILL), LIMITS, stopped="its answer was not readable")
    assert death == explain(Exit(signal.SIGKILL), LIMITS, stopped="its answer was not readable", again=True)
    assert (death.fault, death.reason) == ("student", "was stopped by the grader: its answer was not readable")


def test_the_zygote_reports_a_workers_cpu_and_memory(tmp_path: Path) -> None:
    with Zygote().start() as zygote:
        pid, channel = zygote.fork(scratch=tmp_path, limits=LIMITS)
        os.kill(pid, signal.SIGKILL)
        channel.close()
        ended = zygote.reap(pid)
    assert ended.status is not None and os.WIFSIGNALED(ended.status)
    assert os.WTERMSIG(ended.status) == signal.SIGKILL
    assert not ended.zygote_lost
    assert ended.grew_mib < LIMITS.memory_mib / 2  # a fresh worker has grown little past its zygote


def test_a_workers_growth_is_measured_from_what_it_had_when_ready(tmp_path: Path) -> None:
    """Not from the zygote's resident memory, which also holds pages (code it ran once) no worker maps."""
    with Zygote().start() as zygote:
        worker = Worker(zygote, scratch_root=tmp_path, limits=LIMITS)
        started = worker.started_kib
        worker.kill()
    assert started is not None and started > 0
    assert worker.exit.grew_mib < LIMITS.memory_mib / 2


def test_reap_measures_growth_past_the_workers_start_when_it_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {"pid": 1, "status": signal.SIGKILL, "cpu_s": 0.5, "peak_kib": 300 * 1024, "grew_kib": 40 * 1024}
    zygote = Zygote()
    monkeypatch.setattr(zygote, "_request", lambda request, fds=(): dict(answer))
    assert zygote.reap(1, started_kib=100 * 1024).grew_mib == 200
    assert zygote.reap(1).grew_mib == 40  # the zygote's own measure, for a worker whose start was not read
    answer.pop("peak_kib")  # an older zygote
    assert zygote.reap(1, started_kib=100 * 1024).grew_mib == 40


# -- faults: each kind of process killed while a student's call runs ------------------


@contextlib.contextmanager
def _kill_when_running(scratch: Path, target: Callable[[int], int | None]) -> Iterator[list[int]]:
    """A thread that, once a worker under ``scratch`` says it is running, SIGKILLs ``target(worker_pid)``."""
    killed: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for marker in scratch.glob("*/pid"):
                try:
                    worker = int(marker.read_text() or "0")
                except (OSError, ValueError):
                    continue
                victim = target(worker) if worker else None
                if victim:
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                    return
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield killed
    finally:
        stop.set()
        thread.join()


def _grade_marking(
    tiny: Assignment, scratch: Path, target: Callable[[Grader, int], int | None]
) -> tuple[Report, list[int]]:
    scratch.mkdir()
    with Grader(tiny, scratch=scratch) as grader, _kill_when_running(scratch, lambda w: target(grader, w)) as killed:
        report = grader.grade(build_submission({"ex_tiny.py": MARKING.encode()}, tiny, name="k"))
    return report, killed


def _clean(tiny_grader: Grader, tiny: Assignment) -> Report:
    return tiny_grader.grade(build_submission({"ex_tiny.py": MARKING.encode()}, tiny, name="k"))


def _verdicts(report: Report) -> list[tuple[str, Outcome, str, float]]:
    return [(c.name, c.outcome, c.message, c.points) for c in report.checks]


def test_a_worker_killed_from_outside_mid_call_costs_nothing(
    tmp_path: Path, tiny: Assignment, tiny_grader: Grader
) -> None:
    report, killed = _grade_marking(tiny, tmp_path / "scratch", lambda grader, worker: worker)
    assert killed, "the worker was never seen running"
    assert _verdicts(report) == _verdicts(_clean(tiny_grader, tiny))
    assert report.score == report.max_score


def test_a_zygote_killed_mid_call_costs_nothing(tmp_path: Path, tiny: Assignment, tiny_grader: Grader) -> None:
    report, killed = _grade_marking(tiny, tmp_path / "scratch", lambda grader, worker: grader.zygote.pid)
    assert killed, "the worker was never seen running"
    assert _verdicts(report) == _verdicts(_clean(tiny_grader, tiny))


def test_a_students_own_sigkill_stays_their_verdict(tiny_grader: Grader, tiny: Assignment) -> None:
    source = (
        "import os, signal\ndef double(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n\n" + CORRECT.split("\n\n")[1]
    )
    report = tiny_grader.grade(build_submission({"ex_tiny.py": source.encode()}, tiny, name="k"))
    double = [c for c in report.checks if c.function == "double"]
    assert {c.outcome for c in double} == {Outcome.ERROR}
    assert "by its own code" in double[0].message


def test_a_worker_killed_while_holding_most_of_its_memory_ran_out_of_memory(tmp_path: Path, tiny: Assignment) -> None:
    # What the kernel's OOM killer does to a worker that grew too big, done by the worker itself.
    hog = (
        "import os, signal\n"
        "def double(x):\n"
        "    hoard = bytearray(200 * 2**20)\n"
        "    hoard[:: 4096] = b'x' * len(hoard[:: 4096])\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n\n" + CORRECT.split("\n\n")[1]
    )
    with Grader(tiny, limits=Limits(memory_mib=256), scratch=tmp_path) as grader:
        report = grader.grade(build_submission({"ex_tiny.py": hog.encode()}, tiny, name="hog"))
    messages = {c.message for c in report.checks if c.function == "double"}
    assert all("ran out of memory (limit 256 MiB)" in m for m in messages), messages


def test_an_answer_the_grader_cannot_read_is_named(tiny_grader: Grader, tiny: Assignment) -> None:
    # Student code that writes a forged frame (16 bytes of garbage) on its own channel. (A frame over the
    # answer bound is refused by naming the bound instead: see tests/test_runner.py.)
    forging = (
        "import os, stat, struct\n"
        "def double(x):\n"
        "    for fd in range(3, 64):\n"
        "        try:\n"
        "            if stat.S_ISSOCK(os.fstat(fd).st_mode):\n"
        "                os.write(fd, struct.pack('>Q', 16) + b'not an answer!!!')\n"
        "        except OSError:\n"
        "            pass\n"
        "    return x + x\n\n" + CORRECT.split("\n\n")[1]
    )
    report = tiny_grader.grade(build_submission({"ex_tiny.py": forging.encode()}, tiny, name="f"))
    messages = {c.message for c in report.checks if c.function == "double"}
    assert any(m.startswith("double was stopped by the grader: its answer was not readable") for m in messages)
    assert all("ran out of memory" not in m for m in messages)


def test_a_zygote_that_keeps_dying_leaves_the_student_ungraded_not_failed(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grader.sandbox import runner

    forks = 0
    real_fork = Zygote.fork

    def fork_then_lose_the_zygote(self: Zygote, **kwargs: object) -> object:
        nonlocal forks
        forks += 1
        pid, channel = real_fork(self, **kwargs)  # type: ignore[arg-type]
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)  # our own zygote, dying under every worker it forks
            # Dead, not only doomed: a zygote that a loaded machine lets live on a few milliseconds
            # more would see a tiny submission graded first, as it should be. (Not reaped here.)
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        return pid, channel

    monkeypatch.setattr(runner.Zygote, "fork", fork_then_lose_the_zygote)
    with Grader(tiny, scratch=tmp_path) as grader, pytest.raises(HelperLost, match="could not grade k: "):
        grader.grade(build_submission({"ex_tiny.py": CORRECT.encode()}, tiny, name="k"))
    assert forks >= 2


def test_a_worker_whose_zygote_died_before_it_could_look_serves_nothing(tmp_path: Path) -> None:
    # The zygote reads its own pid before it forks: a zygote killed before its new worker has
    # set its parent-death signal has already been replaced as the worker's parent, and a
    # worker that asked for its parent then would take the new one for the zygote. Here the
    # worker is told of a parent that is not its own, as if that had happened.
    import socket

    from grader.sandbox import isolation, libc, privilege, worker, zygote
    from grader.sandbox.protocol import WORKER_BROKEN_EXIT

    ours, theirs = socket.socketpair()
    scratch = tmp_path / "w"
    scratch.mkdir()
    setup = worker.Setup(  # as the zygote makes it: told of its true parent, this worker would serve
        read_paths=tuple(zygote.readable_paths()),
        # Not ``privilege.plan``: as root, it may make this process a private mount namespace.
        identity=privilege.Plan(None, "a test: the worker keeps this uid, without capabilities"),
        seccomp=isolation.prepare_seccomp(group_leader=True),
        close_range=libc.has_close_range(),
    )
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            ours.close()
            gone = os.getpid()  # never this process's parent
            worker.run(theirs, scratch=scratch, limits=Limits(), setup=setup, parent=gone)
        finally:
            os._exit(99)
    theirs.close()
    ours.settimeout(30)
    try:
        said = ours.recv(1024)  # b"" once it is gone; its "ready" had it served
    finally:
        ours.close()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # a no-op unless it did
        _, status = os.waitpid(pid, 0)
    assert said == b""
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == WORKER_BROKEN_EXIT


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["grading process", "zygote"])
def test_a_batch_loses_nothing_when_a_helper_is_killed_mid_call(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    pids: list[int] = []  # the batch's zygote, or its grading processes: all started by this test
    if victim == "zygote":
        real_start = Zygote.start

        def start(self: Zygote) -> Zygote:
            started = real_start(self)
            pids.append(self.pid or 0)
            return started

        monkeypatch.setattr(Zygote, "start", start)
    else:
        real_fork = Zygote.fork_engines

        def fork_engines(self: Zygote, channels: object) -> int:
            pid = real_fork(self, channels)  # type: ignore[arg-type]
            pids.append(pid)
            return pid

        monkeypatch.setattr(Zygote, "fork_engines", fork_engines)
    class_dir = tmp_path / "class"
    for name, source in (("ann", MARKING), ("bob", CORRECT)):
        (class_dir / name).mkdir(parents=True)
        (class_dir / name / "ex_tiny.py").write_text(source)
    killed: list[int] = []

    def watch() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            if list(temp.glob("grader-batch-*/*/pid")) and pids:
                os.kill(pids[0], signal.SIGKILL)  # while a student's call runs
                killed.append(pids[0])
            time.sleep(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    result = grade_class(class_dir, tmp_path / "out", tiny, jobs=1)
    thread.join()
    assert killed
    assert result.errors == ()
    assert {r.student: r.score for r in result.reports} == {"ann": 5.0, "bob": 5.0}
    assert list(temp.iterdir()) == []  # no scratch folder left behind
