"""Checking from inside Jupyter: ``from grader.jupyter import check``, then ``check()``.

``check()`` grades the functions as they are now in the kernel (what the
student has run, saved or not), not the file on disk. The kernel's cells,
in the order it ran them, become a notebook graded as a saved one is
(docs/reference/notebooks.md: each cell runs in order in the sandbox and
stops at its first error), and go to a grading service in another process
(``grader.service``), which grades them in the same sandbox and engine as
``grader check``: the checks and the reference solutions never enter the
kernel, which only ever sees the resulting report. The service stays up
between calls, so every check after the first answers in a fraction of
the first one's time.

Only the result model and the renderers are imported here.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from grader.models import Report
from grader.render.html import card_context, environment
from grader.render.text import render_text
from grader.student_copy import find_student_copy

#: The first answer includes starting the service: a zygote and a grading process that import torch.
START_TIMEOUT_S = 300.0
#: A request may run every check of an exercise into its per-call time limit.
REQUEST_TIMEOUT_S = 120.0
_MAX_ANSWER_BYTES = 64 * 1024 * 1024


class CheckError(Exception):
    """The check could not be made (nothing defined yet, an unknown name, the sandbox failed).

    IPython shows it as its message alone, not as a traceback into the grader.
    """

    def __init__(self, message: str, *, kind: str = "grader") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    def _render_traceback_(self) -> list[str]:
        return [f"grader: {self.message}"]


@dataclass(frozen=True)
class CheckResult:
    """An in-kernel check's result: shown inline as HTML, or as plain text (no ANSI codes) elsewhere."""

    report: Report

    @property
    def score(self) -> float:
        return self.report.score

    @property
    def max_score(self) -> float:
        return self.report.max_score

    @property
    def percent(self) -> float:
        return self.report.percent

    def _repr_html_(self) -> str:
        return environment().get_template("inline.html.j2").render(**card_context(self.report))

    def __repr__(self) -> str:
        return render_text(self.report).rstrip("\n")


def check(
    function: str | None = None,
    *,
    exercise: str | None = None,
    assignment: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
) -> CheckResult:
    """Grade the kernel's current functions: every function of their exercises, or just ``function``.

    ``exercise`` names the exercise to grade (a hand-out notebook's last cell
    does); without it, every exercise whose functions the kernel defines is
    graded. ``assignment`` is an assignment folder or a student copy
    (default: the ``assignment.grader`` beside the notebook, else the
    bundled assignment), ``timeout`` the wall-clock limit per call in seconds.
    """
    shell = _shell()
    request = {
        "cells": kernel_cells(shell),
        "exercise": exercise,
        "function": function,
        "student": "this notebook",
    }
    # A hand-out's check cell names no assignment: its copy is found beside the notebook (the kernel's folder).
    chosen = Path(assignment).resolve() if assignment is not None else find_student_copy(Path.cwd())
    service = _service(chosen, timeout)
    answer = service.ask(request)
    if "report" not in answer:
        raise CheckError(str(answer.get("error", "the grading service gave no answer")), kind=str(answer.get("kind")))
    return CheckResult(Report.from_dict(answer["report"]))


def kernel_cells(shell: Any) -> list[tuple[int, str]]:
    """Every cell the kernel has run, as (execution count, source as typed), in the order it ran them.

    IPython keeps the raw source of each execution, so a cell edited and run
    again appears twice and its last run wins, as in the kernel itself.
    """
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if not isinstance(history, list):
        raise CheckError("this IPython has no input history to read the notebook's code from")
    return [(count, source) for count, source in enumerate(history) if count and source.strip()]


def _shell() -> Any:
    # IPython is imported by every kernel already; outside one it may not even be installed.
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        raise CheckError(
            "check() grades the code run in a Jupyter or IPython kernel; "
            "outside one, run `grader check FILE` in a terminal"
        )
    return shell


class _Service:
    """The grading service process, started on first use and kept warm."""

    def __init__(self, assignment: Path | None, timeout: float | None) -> None:
        command = [sys.executable, "-I", "-m", "grader.service"]
        if assignment is not None:
            command += ["--assignment", str(assignment)]
        if timeout is not None:
            command += ["--timeout", str(timeout)]
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                cwd=tempfile.gettempdir(),  # never the notebook's folder: a student's torch.py must not shadow
                start_new_session=True,  # an interrupt of the kernel is not an interrupt of the grader
            )
        except OSError as exc:
            self._log.close()
            raise CheckError(f"cannot start the grading service: {exc}", kind="sandbox") from None
        self._buffer = b""
        self._ready = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            if not self._ready:
                hello = self._line(START_TIMEOUT_S)
                if not hello.get("ready"):
                    self.stop()
                    raise CheckError(str(hello.get("error", "the grading service did not start")))
                self._ready = True
            assert self.process.stdin is not None
            self.process.stdin.write(json.dumps(request, ensure_ascii=True).encode() + b"\n")
            self.process.stdin.flush()
            return self._line(REQUEST_TIMEOUT_S)
        except (OSError, CheckError, KeyboardInterrupt):
            # Interrupted or dead: its next answer would be to this request, so start afresh next time.
            self.stop()
            raise

    def _line(self, timeout_s: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CheckError(f"the grading service did not answer within {timeout_s:.0f} s")
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise CheckError(f"the grading service stopped ({self._last_words() or 'no message'})")
                self._buffer += chunk
                if len(self._buffer) > _MAX_ANSWER_BYTES:
                    raise CheckError("the grading service sent an answer far too long")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise CheckError("the grading service sent a malformed answer")
        return answer

    def _last_words(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self._log.seek(0)
            lines = [line.strip() for line in self._log.read().decode("utf-8", "replace").splitlines()]
            lines = [line for line in lines if line]
            return lines[-1][:300] if lines else ""
        return ""

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=5)  # stdin closed: it ends its session and its zygote
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()


_services: dict[tuple[Path | None, float | None], _Service] = {}


def _service(assignment: Path | None, timeout: float | None) -> _Service:
    key = (assignment, timeout)
    service = _services.get(key)
    if service is None or not service.alive():
        if service is not None:
            service.stop()
        service = _services[key] = _Service(assignment, timeout)
    return service


@atexit.register
def _stop_services() -> None:
    for service in _services.values():
        with contextlib.suppress(Exception):
            service.stop()
    _services.clear()


__all__ = ["CheckError", "CheckResult", "check"]
