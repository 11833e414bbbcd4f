"""Why a worker died, and whose doing it was: the student's code, the grader, or neither.

A worker's death costs its student a point only when their own code caused
it. The evidence, gathered when the zygote reaps the worker (``Exit``):

- an exit code: only the process itself exits (``os._exit``, ``sys.exit``);
- a crash signal (segmentation fault, abort, bus error, CPU or file limit):
  raised by what the process did;
- a SIGKILL: its CPU time at the limit, or its memory grown to half its
  limit or more, make it the student's; so does the grader having killed it
  for an answer it could not read. Otherwise nobody can tell, from the wait
  status alone, a student's ``os.kill(os.getpid(), SIGKILL)`` from a
  ``kill -9`` sent by another process or the kernel's OOM killer freeing
  memory for something else: such a death is *unexplained*, and the
  submission is graded again on fresh processes. Grading is deterministic,
  so the student's own kill happens again there, and is then theirs;
- the zygote gone (killed, crashed) before it could reap the worker: the
  worker died with it (its parent-death signal), never the student's doing.
"""

from __future__ import annotations

import os
import select
import signal
import time
from dataclasses import dataclass
from typing import Literal

from grader.sandbox.limits import Limits
from grader.sandbox.protocol import WORKER_BROKEN_EXIT

#: Whose doing a death was: the student's code, a helper process's (or something outside), or unknown yet.
Fault = Literal["student", "helper", "unexplained"]
#: Signals a process brings on itself (a fault, an abort, a timer it armed, a limit it passed);
#: any other may have come from outside.
_OWN_SIGNALS = {
    signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE, signal.SIGILL, signal.SIGSYS, signal.SIGTRAP,
    signal.SIGALRM, signal.SIGVTALRM, signal.SIGPROF, signal.SIGXCPU, signal.SIGXFSZ,
}  # fmt: skip
#: How long a worker whose channel closed is given to finish dying before the grader kills it.
EXIT_GRACE_S = 0.5


@dataclass(frozen=True)
class Exit:
    """What the zygote saw when it reaped a worker (``Zygote.reap``)."""

    #: The wait status; None when the zygote could not reap it.
    status: int | None = None
    #: CPU time the worker used, user and system.
    cpu_s: float = 0.0
    #: How far its resident memory grew, in MiB: its peak past what it had when ready, before any student
    #: code ran (``Zygote.reap``'s ``started_kib``), or else past the zygote's resident memory.
    grew_mib: float = 0.0
    #: The zygote died (or was replaced) before it could reap the worker.
    zygote_lost: bool = False


@dataclass(frozen=True)
class Death:
    """Whose doing a worker's death was, and a sentence saying what happened."""

    fault: Fault
    reason: str


def explain(exit: Exit, limits: Limits, *, stopped: str = "", again: bool = False) -> Death:
    """Why a worker died; ``stopped`` is why the grader killed it, if it did; ``again``: a second attempt.

    On a second attempt (``again``) an unexplained death is the student's:
    the same code, run again on fresh processes, died again.
    """
    if stopped:
        return Death("student", f"was stopped by the grader: {stopped}")
    if exit.zygote_lost:
        return Death("helper", "the sandbox process was lost: the sandbox's zygote died")
    status = exit.status
    if status is None:
        if again:
            return Death("student", "crashed: the process stopped answering")
        return Death("unexplained", "the sandbox process stopped answering and could not be reaped")
    if os.WIFEXITED(status):
        return Death("student", describe_exit(status, limits))
    if not os.WIFSIGNALED(status):
        return Death("student", "crashed")
    sig = os.WTERMSIG(status)
    if sig in _OWN_SIGNALS:
        return Death("student", describe_exit(status, limits))
    if sig == signal.SIGKILL and exit.cpu_s >= limits.cpu_s:
        return Death("student", f"used more than its CPU time limit ({limits.cpu_s} s)")
    if sig == signal.SIGKILL and exit.grew_mib >= limits.memory_mib / 2:
        return Death(
            "student",
            f"was killed (SIGKILL) using {exit.grew_mib:.0f} MiB: "
            f"it ran out of memory (limit {limits.describe_memory()})",
        )
    name = _signal_name(sig)
    if again:
        return Death("student", f"was killed ({name}) by its own code: it happened again when graded a second time")
    return Death("unexplained", f"the sandbox process was killed from outside ({name})")


def describe_exit(status: int | None, limits: Limits) -> str:
    """A sentence a student understands for how their worker died."""
    if status is None:
        return "crashed: the process stopped answering"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGSEGV:
            return "crashed: segmentation fault (invalid memory access)"
        if sig == signal.SIGXCPU:
            return f"used more than its CPU time limit ({limits.cpu_s} s)"
        if sig == signal.SIGABRT:
            return "crashed: aborted"
        if sig == signal.SIGBUS:
            return "crashed: bus error"
        if sig == signal.SIGKILL:
            return f"was killed (SIGKILL): it ran out of memory (limit {limits.describe_memory()}) or killed itself"
        return f"crashed: killed by {_signal_name(sig)}"
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == WORKER_BROKEN_EXIT:
            return (
                "broke the sandbox process it ran in (for example by closing its file descriptors "
                "or replacing builtins), so its answer could not be sent back"
            )
        return f"ended the grading process itself (exit code {code}, e.g. os._exit or sys.exit)"
    return "crashed"


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def open_process(pid: int) -> int | None:
    """A pidfd for ``pid`` (readable once it has ended), or None where the kernel has none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def wait_for_end(pidfd: int | None, pid: int, timeout_s: float = EXIT_GRACE_S) -> bool:
    """Whether process ``pid`` ends (or has ended) within ``timeout_s``: its channel may close just before it does."""
    if pidfd is not None:
        try:
            return bool(select.select([pidfd], [], [], timeout_s)[0])
        except (OSError, ValueError):
            return False
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True  # gone already
        if state in (b"Z", b"X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
