"""``grader check --watch``: every save is graded again by the same warm session, and Ctrl-C ends it cleanly."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.grading import Grader
from grader.models import Report
from grader.watch import changes, snapshot, watch

WRONG = "def double(x):\n    return x + x + 1\n\n\ndef shout(text):\n    return text.upper() + '!'\n"
RIGHT = "def double(x):\n    return 2 * x\n\n\ndef shout(text):\n    return text.upper() + '!'\n"


def save(path: Path, text: str) -> None:
    """Write ``text`` so that the next poll sees a change, even on a file system with coarse times."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text)
    os.utime(path, ns=(before + 10**9, before + 10**9))


def test_snapshot_and_changes(tmp_path: Path) -> None:
    (tmp_path / "ex_tiny.py").write_text("x = 1\n")
    (tmp_path / "notes.txt").write_text("not watched")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "ex_tiny.py").write_text("")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "nb.ipynb").write_text("{}")
    first = snapshot(tmp_path)
    assert list(first) == ["ex_tiny.py"]
    assert changes(None, first) == ("ex_tiny.py",)
    save(tmp_path / "ex_tiny.py", "x = 2\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.ipynb").write_text("{}")
    second = snapshot(tmp_path)
    assert changes(first, second) == ("ex_tiny.py", "sub/more.ipynb")
    assert changes(second, second) == ()
    assert list(snapshot(tmp_path / "ex_tiny.py")) == ["ex_tiny.py"]
    assert snapshot(tmp_path / "missing") == {}


@pytest.mark.slow
def test_every_save_is_graded_again_by_the_same_session(tiny_grader: Grader, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    target = work / "ex_tiny.py"
    target.write_text(WRONG)
    reports: list[Report] = []
    statuses: list[str] = []
    stop = threading.Event()

    def on_status(line: str) -> None:
        statuses.append(line)
        if not line.startswith("watching"):
            return
        waits = sum(s.startswith("watching") for s in statuses)
        if waits == 1:
            target.unlink()  # saved away (an editor's rename): nothing to grade, keep watching
        elif waits == 2:
            save(target, RIGHT)
        elif waits > 2:
            stop.set()  # a safety net: the test expects two rounds

    rounds = watch(work, tiny_grader, on_report=reports.append, on_status=on_status, stop=stop, rounds=2, poll_s=0.02)
    assert rounds == 2 and not stop.is_set()
    assert [r.score for r in reports] == [2.0, 5.0]  # double wrong, then right
    assert reports[0].student == reports[1].student == "work"
    assert statuses[0] == "grading ex_tiny.py ..."
    assert any("no exercise found yet" in s for s in statuses)
    assert statuses.count("grading ex_tiny.py ...") == 2


@pytest.mark.slow
def test_stop_ends_the_watch_after_the_round_in_progress(tiny_grader: Grader, tmp_path: Path) -> None:
    (tmp_path / "ex_tiny.py").write_text(RIGHT)
    stop = threading.Event()
    reports: list[Report] = []

    def on_report(report: Report) -> None:
        reports.append(report)
        stop.set()  # as Ctrl-C does, while a round is being graded

    assert watch(tmp_path, tiny_grader, on_report=on_report, on_status=lambda _: None, stop=stop) == 1
    assert len(reports) == 1 and reports[0].percent == 100.0


def _read_until(proc: subprocess.Popen[bytes], stream_fd: int, needle: bytes, seen: bytearray) -> None:
    """Read ``stream_fd`` until ``needle`` has appeared once more (a guard against hanging, not a timing test)."""
    wanted = seen.count(needle) + 1
    deadline = time.monotonic() + 240
    with selectors.DefaultSelector() as selector:
        selector.register(stream_fd, selectors.EVENT_READ)
        while seen.count(needle) < wanted:
            assert time.monotonic() < deadline, f"no {needle!r} in {bytes(seen)!r}"
            assert proc.poll() is None, f"exited {proc.returncode}: {bytes(seen)!r}"
            if selector.select(1.0):
                seen += os.read(stream_fd, 65536)


@pytest.mark.slow
def test_the_cli_watches_until_ctrl_c_and_exits_0(tiny: Assignment, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "ex_tiny.py").write_text(WRONG)
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader", "check", "--watch", str(work), "--assignment", str(tiny.root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    err = bytearray()
    try:
        _read_until(proc, proc.stderr.fileno(), b"watching", err)
        save(work / "ex_tiny.py", RIGHT)
        _read_until(proc, proc.stderr.fileno(), b"watching", err)
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err += rest
    assert proc.returncode == 0, bytes(err)
    text = out.decode()
    assert text.count("Score: ") == 2
    assert "Score: 2/5 (40.0%)" in text and "Score: 5/5 (100.0%)" in text
    lines = bytes(err).decode().splitlines()
    assert sum("grading ex_tiny.py" in line for line in lines) == 2
    assert lines[-1] == "stopped watching" and "Traceback" not in bytes(err).decode()


def test_watch_refuses_options_it_cannot_honour(tiny: Assignment, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grader.cli import cli

    (tmp_path / "ex_tiny.py").write_text(RIGHT)
    result = CliRunner().invoke(
        cli, ["check", "--watch", str(tmp_path), "--assignment", str(tiny.root), "--fail-under", "50"]
    )
    assert result.exit_code == 2 and "--watch" in result.output
