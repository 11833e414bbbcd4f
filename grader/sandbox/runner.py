"""Workers and per-submission runners: each student call, sandboxed, with its limits.

A ``SubmissionRunner`` forks workers from a ``Zygote`` (see ``client.py``),
sends them requests (pickled, tensors as raw bytes: ``request.py``) and reads
their answers through the pickle-free codec.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import select
import signal
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader import codec
from grader.errors import SandboxError
from grader.sandbox.budget import REPEAT_FRACTION, CallTimer, OwnClock, describe_timeout
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.protocol import (
    IMPORT_FINISHED,
    IMPORT_STARTED,
    WORKER_BROKEN_EXIT,
    BadAnswer,
    ChannelClosed,
    FrameReader,
    FrameTooLarge,
    framed,
    unpack_answer,
)
from grader.sandbox.request import pack_request
from grader.sandbox.scratch import remove_tree

#: Numbers each worker of this process, so a module it holds is never called in another.
_WORKER_TOKENS = itertools.count(1)
#: How long a freshly forked worker may take to lock itself down and say ready.
WORKER_READY_TIMEOUT_S = 30.0


class WorkerTimeout(Exception):
    """The worker did not answer within its time limit (see budget.py)."""


class WorkerDied(Exception):
    """The worker's channel closed: it crashed, exited, or was killed."""

    def __init__(self, status: int | None, unreadable: str = "") -> None:
        super().__init__(status)
        self.status = status
        #: Why the value it sent could not be rebuilt (it was killed for it), if that was the cause.
        self.unreadable = unreadable


class Worker:
    """One sandboxed worker process, reached through its socket."""

    def __init__(self, zygote: Zygote, *, scratch_root: Path, limits: Limits) -> None:
        self.zygote = zygote
        self.limits = limits
        self.scratch = Path(tempfile.mkdtemp(prefix="w-", dir=scratch_root))
        self.pid, self.sock = zygote.fork(scratch=self.scratch, limits=limits)
        self.sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLIN)
        self._inbox = FrameReader(max_bytes=codec.MAX_MESSAGE_BYTES)
        self.status: int | None = None
        self.closed = False
        self.token = next(_WORKER_TOKENS)
        self._clock: OwnClock | None = None
        try:
            hello = self.request({"op": "hello"}, timeout_s=WORKER_READY_TIMEOUT_S, send=False)
        except (WorkerDied, WorkerTimeout):
            self.close()
            raise SandboxError("a sandbox worker failed to start") from None
        self.layers = tuple(str(x) for x in hello.get("layers", ()))
        self._clock = OwnClock(self.pid)

    @property
    def clock(self) -> OwnClock:
        """The worker's run delay, read by the timers of the calls it serves."""
        if self._clock is None:
            raise SandboxError("the sandbox worker has not started")
        return self._clock

    def request(self, message: Mapping[str, Any], *, timeout_s: float | CallTimer, send: bool = True) -> dict[str, Any]:
        """Send a request and wait for the answer; kill the worker if it overruns.

        ``timeout_s``: seconds of real time, or a ``CallTimer`` (own time, for student code).
        """
        timer = timeout_s if isinstance(timeout_s, CallTimer) else _Deadline(timeout_s)
        try:
            if send:
                self._send(framed(pack_request(dict(message))), timer)
            answer_frame = self._receive(timer)
        except TimeoutError:
            self.kill()
            raise WorkerTimeout from None
        except (ChannelClosed, FrameTooLarge, OSError):
            self.kill()
            raise WorkerDied(self.status) from None
        try:
            answer, value = unpack_answer(answer_frame)
            if value:
                answer["value"] = codec.decode(value, owner=self.token)
        except BadAnswer:
            self.kill()
            raise WorkerDied(self.status) from None
        except codec.DecodeError as exc:
            self.kill()
            raise WorkerDied(self.status, unreadable=str(exc)) from None
        return answer

    # The socket is non-blocking, and every wait is a poll with the time left:
    # a worker that trickles bytes cannot stretch a call past its deadline, and
    # a call costs three system calls (send, poll, recv), not a timeout change
    # and a poll before each of several reads.

    def _wait(self, events: int, timer: _Deadline | CallTimer) -> None:
        self._poll.modify(self.sock, events)
        while (remaining := timer.remaining()) > 0:
            if self._poll.poll(math.ceil(remaining * 1000)):
                return
        raise TimeoutError

    def _send(self, data: bytes, timer: _Deadline | CallTimer) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                self._wait(select.POLLOUT, timer)

    def _receive(self, timer: _Deadline | CallTimer) -> bytes:
        while True:
            while (answer := self._inbox.frame()) is None:
                self._wait(select.POLLIN, timer)
                with contextlib.suppress(BlockingIOError):
                    self._inbox.receive(self.sock)
            if answer == IMPORT_STARTED:
                timer.pause()
            elif answer == IMPORT_FINISHED:
                timer.resume()
            else:
                return answer

    def kill(self) -> None:
        """Kill and reap the worker, keeping its wait status; idempotent."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.sock.close()
        if self._clock is not None:
            self._clock.close()
        self.status = self.zygote.reap(self.pid)
        remove_tree(self.scratch)

    close = kill


STALE_MESSAGE = (
    "cannot be run any more: it was made in a sandbox process that has since been replaced, "
    "because a later call timed out or crashed"
)


class _Deadline:
    """A plain real-time deadline, for the grader's own requests (start-up, receiving the files)."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def pause(self) -> None:
        """The grader's own requests run no student code: loading a library counts like the rest."""

    resume = pause


@dataclass(frozen=True)
class CallResult:
    """What came of calling one student function (plain data, no student objects)."""

    status: str  # ok raised not_implemented missing unsupported load_failed timeout crashed oom stale
    value: Any = None
    message: str = ""
    type_name: str = ""
    bases: tuple[str, ...] = ()
    traceback: str = ""
    output: str = ""
    duration_s: float = 0.0


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
            # The grader's own kills are reported as timeouts before this is reached.
            return (
                f"was killed (SIGKILL): it ran out of memory (limit {limits.describe_memory()}) "
                "or killed its own process"
            )
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"crashed: killed by {name}"
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == WORKER_BROKEN_EXIT:
            return (
                "broke the sandbox process it ran in (for example by closing its file descriptors "
                "or replacing builtins), so its answer could not be sent back"
            )
        return f"ended the grading process itself (exit code {code}, e.g. os._exit or sys.exit)"
    return "crashed"


@dataclass
class SubmissionRunner:
    """Runs one submission's functions, each call in a sandboxed worker.

    A worker serves calls until one hangs or crashes; then a fresh worker is
    forked for the next call. A module that fails to import is remembered, so
    every check of it fails quickly and identically; so is every function that
    timed out, whose later calls get a short budget (``budget.py``).
    """

    zygote: Zygote
    files: Mapping[str, bytes]
    limits: Limits
    scratch_root: Path
    _worker: Worker | None = None
    _imported: set[str] = field(default_factory=set)
    _load_failures: dict[str, CallResult] = field(default_factory=dict)
    _timed_out: set[tuple[str, str]] = field(default_factory=set)
    layers: tuple[str, ...] = ()

    def call(
        self,
        module: str,
        function: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        seed: int,
        return_args: bool = False,
        timeout_s: float | None = None,
        reference_s: Callable[[], float | None] | None = None,
    ) -> CallResult:
        """Call ``module.function`` in the worker.

        ``timeout_s`` (default ``limits.timeout_s``) bounds the call's budget;
        ``reference_s``, asked only if the call outlives its floor, times the
        reference solution on the same arguments (seconds, or None).
        """
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        if module in self._load_failures:
            return self._load_failures[module]
        worker = self._ensure_worker()
        if module not in self._imported:
            failure = self._import(worker, module, timeout)
            if failure is not None:
                self._load_failures[module] = failure
                return failure
        request: dict[str, Any] = {
            "op": "call",
            "module": module,
            "function": function,
            "seed": seed,
            "return_args": return_args,
            "args": tuple(args),
            "kwargs": dict(kwargs or {}),
        }
        repeated = (module, function) in self._timed_out
        floor = self.limits.budget_s * (REPEAT_FRACTION if repeated else 1.0)
        timer = CallTimer(worker.clock, budget_s=floor, cap_s=timeout, reference_s=reference_s)
        return self._exchange(worker, request, timer, timed=(module, function), repeated=repeated)

    def holds(self, owner: int | None) -> bool:
        """Whether the current worker is the one numbered ``owner`` (see ``Worker.token``)."""
        return self._worker is not None and owner is not None and self._worker.token == owner

    def call_handle(
        self,
        owner: int | None,
        handle: int,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        state: list[tuple[str, Any]],
        training: bool,
        grad: bool,
        seed: int,
    ) -> CallResult:
        """Call a module that stayed in worker ``owner`` (``codec.RemoteForward``), with the given state loaded."""
        worker = self._worker
        if worker is None or not self.holds(owner):
            return CallResult("stale", message=STALE_MESSAGE)
        request: dict[str, Any] = {
            "op": "call_handle",
            "handle": handle,
            "state": state,
            "training": training,
            "grad": grad,
            "seed": seed,
            "args": tuple(args),
            "kwargs": dict(kwargs),
        }
        # A model's forward gets the same own-time budget as any call; it has no reference to time.
        timer = CallTimer(worker.clock, budget_s=self.limits.budget_s, cap_s=self.limits.timeout_s, reference_s=None)
        return self._exchange(worker, request, timer)

    def _exchange(
        self,
        worker: Worker,
        request: dict[str, Any],
        timer: CallTimer,
        *,
        timed: tuple[str, str] | None = None,
        repeated: bool = False,
    ) -> CallResult:
        """Send one request and read its answer; ``timed`` is remembered as timed out if it runs past ``timer``."""
        started = time.perf_counter()
        try:
            answer = worker.request(request, timeout_s=timer)
        except WorkerTimeout:
            self._discard()
            if timed is not None:
                self._timed_out.add(timed)
            return CallResult(
                "timeout", message=describe_timeout(timer, repeated=repeated), duration_s=time.perf_counter() - started
            )
        except WorkerDied as died:
            status = worker.status
            self._discard()
            duration = time.perf_counter() - started
            if died.unreadable:
                message = f"returned a value that could not be rebuilt outside the sandbox ({died.unreadable[:300]})"
                return CallResult("unsupported", message=message, duration_s=duration)
            return CallResult("crashed", message=describe_exit(status, self.limits), duration_s=duration)
        return _result(answer, self.limits, time.perf_counter() - started)

    def _import(self, worker: Worker, module: str, timeout: float) -> CallResult | None:
        try:
            # Module-level code (a notebook's training cell) gets the whole limit, on the own-time clock.
            timer = CallTimer(worker.clock, budget_s=timeout, cap_s=timeout)
            answer = worker.request({"op": "import", "module": module}, timeout_s=timer)
        except WorkerTimeout:
            self._discard()
            return CallResult("load_failed", message=f"importing {module} timed out after {timeout:g} s")
        except WorkerDied:
            status = worker.status
            self._discard()
            return CallResult("load_failed", message=f"importing {module} {describe_exit(status, self.limits)}")
        if answer["status"] != "ok":
            return CallResult(
                "load_failed",
                message=str(answer.get("message", "")),
                traceback=str(answer.get("traceback", "")),
                output=str(answer.get("output", "")),
            )
        self._imported.add(module)
        return None

    def _ensure_worker(self) -> Worker:
        if self._worker is None:
            worker = Worker(self.zygote, scratch_root=self.scratch_root, limits=self.limits)
            self.layers = worker.layers
            try:
                answer = worker.request({"op": "init", "files": dict(self.files)}, timeout_s=WORKER_READY_TIMEOUT_S)
            except (WorkerTimeout, WorkerDied):
                worker.kill()
                raise SandboxError("a sandbox worker could not receive the submission") from None
            if answer["status"] != "ok":
                worker.kill()
                raise SandboxError("a sandbox worker refused the submission")
            self._worker = worker
            self._imported = set()
        return self._worker

    def _discard(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
            self._imported = set()

    def close(self) -> None:
        self._discard()


def _result(answer: dict[str, Any], limits: Limits, duration: float) -> CallResult:
    status = answer["status"]
    output = str(answer.get("output", ""))
    if status == "oom":
        return CallResult("oom", message=f"ran out of memory (limit {limits.describe_memory()})", output=output)
    if status == "raised":
        bases = answer.get("bases")
        return CallResult(
            "raised",
            message=str(answer.get("message", "")),
            type_name=str(answer.get("type", "Exception")),
            bases=tuple(str(b) for b in bases) if isinstance(bases, list) else (),
            traceback=str(answer.get("traceback", "")),
            output=output,
            duration_s=duration,
        )
    if status == "stale":
        return CallResult("stale", message=STALE_MESSAGE, output=output, duration_s=duration)
    if status in ("ok", "not_implemented", "missing", "unsupported"):
        return CallResult(
            status,
            value=answer.get("value"),
            message=str(answer.get("message", "")),
            output=output,
            duration_s=duration,
        )
    return CallResult("crashed", message="crashed: the worker sent an answer the grader does not understand")
