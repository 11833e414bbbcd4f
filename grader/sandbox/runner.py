"""Workers and per-submission runners: each student call, sandboxed, with its limits.

A ``SubmissionRunner`` forks workers from a ``Zygote`` (see ``client.py``),
sends them requests (pickled, tensors as raw bytes: ``request.py``) and reads
their answers through the pickle-free codec.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import math
import os
import select
import signal
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from grader import codec
from grader.errors import HelperLost, SandboxError
from grader.sandbox.budget import CallTimer, OwnClock, Start, describe_timeout, repeat_floor
from grader.sandbox.cells import CellStop, read_stops
from grader.sandbox.client import Zygote
from grader.sandbox.death import Exit, explain, open_process, wait_for_end
from grader.sandbox.limits import Limits
from grader.sandbox.loading import Notices, Preload, TooManyNotices
from grader.sandbox.memory import resident_kib
from grader.sandbox.protocol import (
    MAX_ANSWER_BYTES,
    AnswerBudget,
    BadAnswer,
    ChannelClosed,
    FrameReader,
    FrameTooLarge,
    OverBound,
    frame_header,
    framed,
    unpack_answer,
)
from grader.sandbox.request import pack_request
from grader.sandbox.scratch import remove_tree

#: Numbers each worker of this process, so a module it holds is never called in another.
_WORKER_TOKENS = itertools.count(1)
#: How long the grader sleeps between two reads of a worker's answers to planned calls (see ``Worker._nap``).
PIPELINE_NAP_S = 0.002
#: How long a freshly forked worker may take to lock itself down and say ready.
WORKER_READY_TIMEOUT_S = 30.0
#: The most bytes of planned answers kept, still encoded, until a check reads them; past it, an
#: answer is let go (its digest kept) and its call made again when a check asks for it.
MAX_HELD_BYTES = 8 * 1024 * 1024
#: What an answer's texts are cut to here, whatever the worker sent (it cuts them too, unless forged).
MAX_MESSAGE_CHARS = 2000
MAX_TYPE_CHARS = 200
MAX_TRACEBACK_CHARS = 4000
MAX_BASES = 32
#: What all the texts of one submission's answers (messages, tracebacks, printed output) may be, in characters.
MAX_SUBMISSION_TEXT_CHARS = 128 * 1024


class WorkerTimeout(Exception):
    """The worker did not answer within its time limit (see budget.py)."""


class WorkerDied(Exception):
    """The worker's channel closed: it crashed, exited, or was killed."""

    def __init__(self, exit: Exit, unreadable: str = "", stopped: str = "", refused: str = "") -> None:
        super().__init__(exit.status)
        self.exit = exit
        #: Why the value it sent could not be rebuilt (it was killed for it), if that was the cause.
        self.unreadable = unreadable
        #: Why the grader killed it, if it did (see ``death.explain``).
        self.stopped = stopped
        #: Which bound its answer was over (it was killed for it), after the function's name, if that was the cause.
        self.refused = refused

    @property
    def status(self) -> int | None:
        return self.exit.status


class Worker:
    """One sandboxed worker process, reached through its socket.

    ``budget`` and ``allowance`` bound what its answers may take in all (bytes, and
    parts to rebuild): shared by every worker of one submission.
    """

    def __init__(
        self,
        zygote: Zygote,
        *,
        scratch_root: Path,
        limits: Limits,
        budget: AnswerBudget | None = None,
        allowance: codec.Allowance | None = None,
    ) -> None:
        self.zygote = zygote
        self.limits = limits
        self.budget = budget
        self.allowance = allowance
        self.scratch = Path(tempfile.mkdtemp(prefix="w-", dir=scratch_root))
        self.pid, self.sock = zygote.fork(scratch=self.scratch, limits=limits)
        #: The zygote that forked it (``Zygote.generation``), and a handle that tells when it ended.
        self.generation = zygote.generation
        self._pidfd = open_process(self.pid)
        self.sock.setblocking(False)
        self._poll = select.poll()
        self._poll.register(self.sock, select.POLLIN)
        self._inbox = FrameReader(max_bytes=MAX_ANSWER_BYTES, budget=budget)
        self.exit = Exit()
        #: Why the grader killed it, if it did before it ended on its own.
        self.stopped = ""
        self.closed = False
        self.token = next(_WORKER_TOKENS)
        #: The modules it said its calls started loading (``loading.py``).
        self.loading = Notices()
        self._clock: OwnClock | None = None
        #: Its resident memory once ready, before any student code ran: what its growth is measured from.
        self.started_kib: int | None = None
        try:
            hello = self.request({"op": "hello"}, timeout_s=WORKER_READY_TIMEOUT_S, send=False)
        except (WorkerDied, WorkerTimeout):
            self.close()
            raise SandboxError("a sandbox worker failed to start") from None
        self.layers = tuple(str(x) for x in hello.get("layers", ()))
        self._clock = OwnClock(self.pid)
        self.started_kib = resident_kib(self.pid)

    @property
    def clock(self) -> OwnClock:
        """The worker's run delay, read by the timers of the calls it serves."""
        if self._clock is None:
            raise SandboxError("the sandbox worker has not started")
        return self._clock

    def request(
        self,
        message: Mapping[str, Any] | bytes,
        *,
        timeout_s: float | CallTimer,
        send: bool = True,
        attached: Iterable[bytes] = (),
    ) -> dict[str, Any]:
        """Send a request (a message, or one already packed) and wait for the answer; kill the worker if it overruns.

        ``timeout_s``: seconds of real time, or a ``CallTimer`` (own time, for student code).
        ``attached``: payloads sent after the request, a frame each, from the caller's own bytes.
        """
        timer = timeout_s if isinstance(timeout_s, CallTimer) else _Deadline(timeout_s)
        try:
            if send:
                packed = message if isinstance(message, bytes) else pack_request(dict(message))
                self._send(framed(packed), timer)
                for data in attached:
                    self._send(frame_header(len(data)), timer)
                    self._send(data, timer)
            answer_frame = self._receive(timer)
        except TimeoutError:
            self.kill()
            raise WorkerTimeout from None
        except (ChannelClosed, FrameTooLarge, TooManyNotices, OSError) as exc:
            raise self._died(exc) from None
        return self._answer(answer_frame)

    def init(self, files: Mapping[str, bytes], *, timeout_s: float) -> dict[str, Any]:
        """Hand the worker a submission's files, and wait for its answer.

        The request names the files; each file's bytes follow as a frame of
        their own, sent from the grader's copy: a submission of 24 MiB is
        never pickled or framed whole in the grading process, which would hold
        it two or three times over (issue 24's 64 MiB bound on what one
        student may add to that process).
        """
        return self.request({"op": "init", "files": list(files)}, timeout_s=timeout_s, attached=files.values())

    def pipeline(
        self,
        requests: list[bytes],
        timer_for: Callable[[int, Start | None], CallTimer],
        *,
        hold_bytes: int = MAX_HELD_BYTES,
    ) -> tuple[list[dict[str, Any]], WorkerTimeout | WorkerDied | None]:
        """Send packed requests back to back and read their answers in order, each on its own timer.

        The worker serves them one after the other, so request ``i``'s timer
        (``timer_for(i, start)``) starts when answer ``i - 1`` arrives: ``start``
        is the moment the bytes that completed it were read (None: now). A
        timer is made only for the request the grader then waits on, not for
        each of the answers read together in one go. Sending and reading
        interleave: a batch larger than the socket's buffers cannot deadlock
        with a worker that is writing answers. Returns the answers read and,
        if the worker overran or died on the next request, why; the worker is
        then killed. Values are kept encoded, up to ``hold_bytes`` of them in
        all; an answer past that is let go (``"evicted"``).
        """
        data = memoryview(b"".join(framed(r) for r in requests))
        answers: list[dict[str, Any]] = []
        total = len(requests)
        timer, timed = timer_for(0, None), 0  # the timer, and the request it times
        arrived: Start | None = None  # when the bytes read last came in
        try:
            while len(answers) < total:
                if data:
                    with contextlib.suppress(BlockingIOError):
                        data = data[self.sock.send(data) :]
                while len(answers) < total and (frame := self._next_answer()) is not None:
                    answer = self._answer(frame, rebuild=False, hold_bytes=hold_bytes)
                    hold_bytes -= len(answer.get("encoded", b""))
                    answers.append(answer)
                if len(answers) == total:
                    break
                if timed != len(answers):
                    timer, timed = timer_for(len(answers), arrived), len(answers)
                if not data and self._nap(timer):
                    arrived = self.clock.start()
                    continue
                self._wait(select.POLLIN | (select.POLLOUT if data else 0), timer)
                with contextlib.suppress(BlockingIOError):
                    self._inbox.receive(self.sock)
                    arrived = self.clock.start()
        except TimeoutError:
            self.kill()
            return answers, WorkerTimeout()
        except (ChannelClosed, FrameTooLarge, TooManyNotices, OSError) as exc:
            return answers, self._died(exc)
        except WorkerDied as died:
            # Returned as a value, so without its traceback and context: their frames hold the answer
            # that killed the worker (up to MAX_ANSWER_BYTES), and the caller's local that keeps ``died`` would
            # close a cycle through them that only the garbage collector frees: one answer per lost
            # worker piled up in the grading process (69 MiB for ten 9 MB answers, bench/hostile_answers.py).
            died.__context__ = None
            return answers, died.with_traceback(None)
        return answers, None

    def _nap(self, timer: CallTimer) -> bool:
        """Sleep a moment, then read what arrived; whether anything did.

        A worker running planned calls answers every few tens of microseconds;
        woken for each answer, the grader would cost a context switch per
        call. Napping ``PIPELINE_NAP_S`` lets answers gather and be read in one
        go: each arrives at most that much later, nothing against a budget of
        a second. A nap that finds nothing means a call that takes its time:
        the grader then waits on the socket as for any call.
        """
        time.sleep(min(PIPELINE_NAP_S, max(timer.remaining(), 0.0)))
        try:
            self._inbox.receive(self.sock)
        except BlockingIOError:
            return False
        return True

    def _answer(self, frame: bytes | bytearray, *, rebuild: bool = True, hold_bytes: int = 0) -> dict[str, Any]:
        """An answer frame read back: its facts and its value; a frame that is not one kills the worker.

        ``rebuild=False`` leaves the value encoded (``"encoded"``, with ``"owner"``): a planned
        answer is rebuilt only if a check reads it (``SubmissionRunner._take``); one larger than
        ``hold_bytes`` is not kept (``"evicted"``).
        """
        try:
            answer, value = unpack_answer(frame, self.budget)
            if value and not rebuild:
                if len(value) <= hold_bytes:
                    answer["encoded"], answer["owner"] = value, self.token
                else:
                    answer["evicted"] = True
            elif value:
                answer["value"] = codec.decode(value, owner=self.token, allowance=self.allowance)
        except OverBound as exc:
            self.kill(stopped=f"its answer was over a bound ({exc})")
            raise WorkerDied(self.exit, stopped=self.stopped, refused=str(exc)) from None
        except BadAnswer:
            self.kill(stopped="its answer was not readable")
            raise WorkerDied(self.exit, stopped=self.stopped) from None
        except codec.TooLarge as exc:
            self.kill(stopped=f"its answer was over a bound ({exc})")
            raise WorkerDied(self.exit, stopped=self.stopped, refused=f"returned {exc}") from None
        except codec.DecodeError as exc:
            self.kill()
            raise WorkerDied(self.exit, unreadable=str(exc)) from None
        # What the answer said, byte for byte: two equal digests mean the same answer (plugin's memo).
        # An answer let go is not hashed: megabytes each, and its call is made again if a check asks.
        if not answer.get("evicted"):
            answer["digest"] = hashlib.blake2b(frame, digest_size=16).digest()
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
        # Out of time, found while timing the reference solution (``CallTimer.looked_away``): the worker
        # may have answered while the grader was busy, and its own time ran on while it waited to be read.
        if timer.looked_away and self._poll.poll(0):
            return
        raise TimeoutError

    def _send(self, data: bytes, timer: _Deadline | CallTimer) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                self._wait(select.POLLOUT, timer)

    def _receive(self, timer: _Deadline | CallTimer) -> bytes | bytearray:
        while (answer := self._next_answer()) is None:
            self._wait(select.POLLIN, timer)
            with contextlib.suppress(BlockingIOError):
                self._inbox.receive(self.sock)
        return answer

    def _next_answer(self) -> bytes | bytearray | None:
        """The next answer frame already received, or None; the loading notices before it are kept in ``loading``."""
        while (frame := self._inbox.frame()) is not None:
            if not self.loading.take(frame):
                self.loading.answered()
                return frame
        return None

    def _died(self, exc: Exception) -> WorkerDied:
        """The worker's channel broke (``exc``): kill it if it lives on, and say how it ended."""
        if isinstance(exc, FrameTooLarge):
            self.kill(stopped=f"its answer was over a bound ({exc})")
            return WorkerDied(self.exit, stopped=self.stopped, refused=str(exc))
        if isinstance(exc, TooManyNotices):
            self.kill(stopped=str(exc))
        elif not self.closed and not wait_for_end(self._pidfd, self.pid):
            self.kill(stopped="it stopped answering: its process closed its channel to the grader")
        else:
            self.kill()
        return WorkerDied(self.exit, stopped=self.stopped)

    @property
    def status(self) -> int | None:
        """Its wait status, once reaped."""
        return self.exit.status

    def kill(self, *, stopped: str = "") -> None:
        """Kill and reap the worker, keeping what its end looked like; idempotent.

        ``stopped``: why the grader kills a worker that has not ended on its own.
        """
        if self.closed:
            return
        self.closed = True
        self.stopped = stopped
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.sock.close()
        if self._clock is not None:
            self._clock.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        self.exit = self.zygote.reap(self.pid, generation=self.generation, started_kib=self.started_kib)
        remove_tree(self.scratch)

    close = kill


STALE_MESSAGE = (
    "cannot be run any more: it was made in a sandbox process that has since been replaced, "
    "because a later call timed out or crashed"
)


class _Deadline:
    """A plain real-time deadline, for the grader's own requests (start-up, receiving the files)."""

    #: Never: only a ``CallTimer`` times a reference solution (see ``Worker._wait``).
    looked_away = False

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()


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
    #: The answer's bytes, hashed, when it is one the same code gives every time (not a timeout or a crash).
    digest: bytes = b""
    #: A planned answer's value as the worker encoded it, until a check reads it; and that worker's number.
    encoded: bytes | memoryview = b""
    owner: int | None = None
    #: A planned answer whose value was let go unread (``MAX_HELD_BYTES``): its call is made again if a check asks.
    evicted: bool = False


@dataclass(frozen=True)
class PlannedCall:
    """A call a check is expected to make: recorded once against the reference solution (``grader.plan``)."""

    module: str
    function: str
    #: The request as ``call_request`` and ``pack_request`` make it: equal bytes, the same call.
    request: bytes
    #: Times the reference on the call's arguments, if the call runs past its floor (see ``CallTimer``).
    reference_s: Callable[[], float | None] | None = None


def call_request(
    module: str,
    function: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any] | None,
    *,
    seed: int,
    return_args: bool,
    sequence: bool = False,
) -> dict[str, Any]:
    """The request that calls ``module.function`` in a worker.

    ``sequence``: ``args`` are ``(args, kwargs)`` steps, called in order in one
    request (``request.in_sequence``); the value is the list of their results.
    """
    request = {
        "op": "call",
        "module": module,
        "function": function,
        "seed": seed,
        "return_args": return_args,
        "args": tuple(args),
        "kwargs": dict(kwargs or {}),
    }
    if sequence:  # only then: a plain call's request stays the same bytes
        request["sequence"] = True
    return request


@dataclass
class SubmissionRunner:
    """Runs one submission's functions, each call in a sandboxed worker.

    A worker serves calls until one hangs or crashes; then a fresh worker is
    forked for the next call. A module that fails to import is remembered, so
    every check of it fails quickly and identically; so is every function that
    timed out, whose later calls get a short budget (``budget.py``).

    **Planned calls.** ``expect`` gives the calls each coming check will make
    if the student's answers are right (``grader.plan``, recorded against the
    reference). The first time a check needs one that has not run, every
    planned call from there on is sent to the worker at once and the answers
    are read in order, each on its own timer: one exchange instead of one per
    call. A check's call that is byte for byte its next planned call gets the
    planned call's answer; any other call (the check went another way, or
    called a model that stayed in the worker) runs on its own, as before. The
    worker runs the planned calls in their order whether or not a check ends
    up asking for them, so a submission gets the same answers in every mode.

    **Loading modules.** A call that runs out of time after its worker said it
    started loading modules (``loading.py``) runs once more in a fresh
    worker that has loaded them first, as module-level code, on the same
    budget; later fresh workers load them too, if that brought it within its
    budget. One more try per function, and a few per submission
    (``loading.Preload``): a forged notice buys one more try of the first
    call's budget, never a point.
    """

    zygote: Zygote
    files: Mapping[str, bytes]
    limits: Limits
    scratch_root: Path
    _worker: Worker | None = None
    _imported: set[str] = field(default_factory=set)
    _load_failures: dict[str, CallResult] = field(default_factory=dict)
    #: How many times each (module, function) has timed out in this submission.
    _timed_out: dict[tuple[str, str], int] = field(default_factory=dict)
    layers: tuple[str, ...] = ()
    _plan: list[tuple[PlannedCall, ...]] = field(default_factory=list)
    _answers: dict[tuple[int, int], CallResult] = field(default_factory=dict)
    _check: int | None = None
    _position: int = 0
    #: The current check's calls so far: each planned answer's digest, or None once any call was not planned.
    _digests: list[bytes] | None = None
    #: Whether the current check holds a model that stayed in the worker (see ``_run_ahead``).
    _holding: bool = False
    #: Modules each fresh worker loads before the submission's own, and the calls tried once more for them.
    _preload: Preload = field(default_factory=Preload)
    #: A second attempt at this submission: a worker's unexplained death is then its own (``death.explain``).
    again: bool = False
    #: Why a helper process's death (not the student's doing) cut this attempt short; "" while none did.
    lost: str = ""
    #: The notebook cells stopped by an error while a module was imported, each once, in order.
    cell_stops: dict[CellStop, None] = field(default_factory=dict)
    #: What this submission's answers may still take, in bytes and in parts to rebuild, over all its workers.
    _budget: AnswerBudget = field(default_factory=AnswerBudget)
    _allowance: codec.Allowance = field(default_factory=codec.Allowance)
    _texts: _Texts = field(default_factory=lambda: _Texts())

    # -- planned calls -----------------------------------------------------------

    def expect(self, segments: Sequence[Sequence[PlannedCall]]) -> None:
        """The calls of each coming check, in the order the checks run (one segment per check; empty: none)."""
        self._plan = [tuple(segment) for segment in segments]
        self._answers = {}

    def start_check(self, index: int) -> None:
        """The check of segment ``index`` starts: its calls are matched against that segment."""
        self._check, self._position, self._digests, self._holding = index, 0, [], False

    def planned_answers(self, index: int) -> list[CallResult]:
        """Segment ``index``'s answers, run if need be, up to the first that timed out or crashed."""
        segment = self._plan[index] if 0 <= index < len(self._plan) else ()
        answers: list[CallResult] = []
        for position in range(len(segment)):
            result = self._planned(index, position)
            answers.append(result)
            if not result.digest:
                break
        return answers

    def check_digests(self) -> list[bytes] | None:
        """The digests of the answers the current check used, in order; None if any was not a planned, kept answer."""
        digests = self._digests
        if digests is None or self._holding:
            return None
        return list(digests)

    def _planned(self, index: int, position: int) -> CallResult:
        key = (index, position)
        if key not in self._answers:
            self._run_ahead(key)
        return self._answers[key]

    def _take(self, index: int, position: int) -> CallResult:
        """A planned answer for a check to read: its value rebuilt now, once, and let go here.

        Only the answer's facts and digest stay (for ``planned_answers``): the value
        is the check's to hold, so answers do not pile up until the student is done.
        """
        key = (index, position)
        result = self._planned(index, position)
        if result.evicted:
            call = self._plan[index][position]
            result = self._call_now(call.module, call.function, call.request, None, call.reference_s)
        elif result.encoded:
            result = self._rebuilt(result)
        self._answers[key] = dataclasses.replace(result, value=None, encoded=b"", evicted=False)
        return result

    def _rebuilt(self, result: CallResult) -> CallResult:
        try:
            value = codec.decode(result.encoded, owner=result.owner, allowance=self._allowance)
        except codec.DecodeError as exc:
            if self.holds(result.owner):
                self._discard()  # a worker that sent what cannot be read serves no more calls
            if isinstance(exc, codec.TooLarge):
                message = f"returned {exc}"
            else:
                message = f"returned a value that could not be rebuilt outside the sandbox ({str(exc)[:300]})"
            return CallResult("unsupported", message=message, output=result.output)
        return dataclasses.replace(result, value=value, encoded=b"")

    def _run_ahead(self, first: tuple[int, int]) -> None:
        """Run, in one exchange, every planned call from ``first`` on that has no answer yet.

        When the current check holds a model that stayed in the worker, only
        its own calls run ahead: a later check's call that crashed the worker
        would otherwise take the model away before this check is done with it.
        """
        index, position = first
        last = index if (self._holding and index == self._check) else len(self._plan) - 1
        keys = [
            (i, p)
            for i in range(index, last + 1)
            for p in range(position if i == index else 0, len(self._plan[i]))
            if (i, p) not in self._answers
        ]
        # Each step imports a module (key None) or makes a planned call; a new worker has imported nothing.
        imported = self._imported if self._worker is not None else set()
        steps: list[tuple[str, tuple[int, int] | None]] = []
        frames: list[bytes] = []
        for key in keys:
            call = self._plan[key[0]][key[1]]
            if call.module in self._load_failures:
                continue
            if call.module not in imported:
                imported = imported | {call.module}
                steps.append((call.module, None))
                frames.append(pack_request({"op": "import", "module": call.module}))
            steps.append((call.module, key))
            frames.append(call.request)
        if frames:
            self._exchange_planned(steps, frames, first)
        for key in keys:  # calls of a module that failed to load, before or during this exchange
            if key not in self._answers:
                failure = self._load_failures.get(self._plan[key[0]][key[1]].module)
                if failure is not None:
                    self._answers[key] = failure

    def _exchange_planned(
        self, steps: list[tuple[str, tuple[int, int] | None]], frames: list[bytes], first: tuple[int, int]
    ) -> None:
        """Send ``frames`` to the worker in one exchange and keep each step's answer (see ``_run_ahead``)."""
        worker = self._ensure_worker()
        timeout = self.limits.timeout_s
        last: list[tuple[int, CallTimer, int]] = []  # the latest timer: its step, itself, the earlier timeouts

        def timer_for(step: int, start: Start | None) -> CallTimer:
            module, key = steps[step]
            if key is None:  # module-level code gets the whole limit, as in ``_import``
                timer, before = CallTimer(worker.clock, budget_s=timeout, cap_s=timeout, start=start), 0
            else:
                call = self._plan[key[0]][key[1]]
                before = self._timed_out.get((module, call.function), 0)
                floor = repeat_floor(self.limits.budget_s, before)
                timer = CallTimer(
                    worker.clock, budget_s=floor, cap_s=timeout, reference_s=call.reference_s, start=start
                )
            last[:] = [(step, timer, before)]
            return timer

        held = sum(len(result.encoded) for result in self._answers.values())
        answers, stopped = worker.pipeline(frames, timer_for, hold_bytes=MAX_HELD_BYTES - held)
        for (module, key), answer in zip(steps, answers, strict=False):
            if key is None:
                self._imported_or_failed(module, answer)
            else:
                self._answers[key] = self._load_failures.get(module) or _result(answer, self.limits, 0.0, self._texts)
        if stopped is None:
            return
        module, key = steps[len(answers)]
        if last[0][0] != len(answers):  # its answer came with earlier ones and was refused: never waited on
            timer_for(len(answers), None)
        _, timer, before = last[0]
        self._discard()
        if key is None:
            self._load_failures[module] = self._import_failure(module, stopped, timeout)
        else:
            call = self._plan[key[0]][key[1]]
            retried = None
            if isinstance(stopped, WorkerTimeout):
                retried = self._retry_loaded(worker, module, call.function, call.request, None, call.reference_s)
                if retried is None:
                    self._count_timeout((module, call.function))
            self._answers[key] = retried or self._lost(stopped, timer, before, time.monotonic() - timer.started)
        self._forget_stale(first)

    def _forget_stale(self, asked: tuple[int, int]) -> None:
        """After losing a worker: answers holding a model it kept are run again when needed, in a fresh worker.

        The answer asked for is run again alone at once, so the check gets a model it can still call.
        """
        for key, result in list(self._answers.items()):
            if key >= asked and result.status == "ok" and _may_hold_models(result):
                del self._answers[key]
        if asked not in self._answers:
            call = self._plan[asked[0]][asked[1]]
            self._answers[asked] = self._call_now(call.module, call.function, call.request, None, call.reference_s)

    # -- calls ---------------------------------------------------------------------

    def call(
        self,
        module: str,
        function: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        seed: int,
        return_args: bool = False,
        sequence: bool = False,
        timeout_s: float | None = None,
        reference_s: Callable[[], float | None] | None = None,
    ) -> CallResult:
        """Call ``module.function`` in the worker (``sequence``: once per step, see ``call_request``).

        ``timeout_s`` (default ``limits.timeout_s``) bounds the call's budget;
        ``reference_s``, asked only if the call outlives its floor, times the
        reference solution on the same arguments (seconds, or None).
        """
        request = pack_request(
            call_request(module, function, args, kwargs, seed=seed, return_args=return_args, sequence=sequence)
        )
        index, position = self._check, self._position
        if index is not None and timeout_s is None and self._digests is not None and index < len(self._plan):
            segment = self._plan[index]
            if position < len(segment) and segment[position].request == request:
                self._position += 1
                result = self._take(index, position)
                if result.digest:
                    self._digests.append(result.digest)
                else:
                    self._digests = None
                if result.status == "ok" and codec.remote_forwards(result.value):
                    self._holding = True
                return result
        self._digests = None  # this check went its own way: its later calls run one by one
        return self._call_now(module, function, request, timeout_s, reference_s)

    def _call_now(
        self,
        module: str,
        function: str,
        request: bytes,
        timeout_s: float | None,
        reference_s: Callable[[], float | None] | None,
        *,
        retry: bool = True,
    ) -> CallResult:
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        if module in self._load_failures:
            return self._load_failures[module]
        worker = self._ensure_worker()
        if module not in self._imported:
            failure = self._import(worker, module, timeout)
            if failure is not None:
                self._load_failures[module] = failure
                return failure
        earlier = self._timed_out.get((module, function), 0)
        timer = CallTimer(
            worker.clock, budget_s=repeat_floor(self.limits.budget_s, earlier), cap_s=timeout, reference_s=reference_s
        )
        timed = None if retry else (module, function)  # a timeout that earns one more try is not counted
        result = self._exchange(worker, request, timer, timed=timed, earlier=earlier)
        if result.status != "timeout" or not retry:
            return result
        retried = self._retry_loaded(worker, module, function, request, timeout_s, reference_s)
        if retried is not None:
            return retried
        self._count_timeout((module, function))
        return result

    def _retry_loaded(
        self,
        worker: Worker,
        module: str,
        function: str,
        request: bytes,
        timeout_s: float | None,
        reference_s: Callable[[], float | None] | None,
    ) -> CallResult | None:
        """A call that timed out in ``worker``, run once more in a fresh worker that loaded its modules first.

        None if it gets no more try (``Preload.more_try``).
        """
        names = self._preload.more_try(worker.loading.pending, (module, function))
        if not names:
            return None
        result = self._call_now(module, function, request, timeout_s, reference_s, retry=False)
        if result.status == "timeout":
            self._preload.useless(names)
        return result

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
        self._digests = None
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
        return self._exchange(worker, pack_request(request), timer)

    def _exchange(
        self,
        worker: Worker,
        request: bytes,
        timer: CallTimer,
        *,
        timed: tuple[str, str] | None = None,
        earlier: int = 0,
    ) -> CallResult:
        """Send one request and read its answer; ``timed`` is remembered as timed out if it runs past ``timer``."""
        started = time.perf_counter()
        try:
            answer = worker.request(request, timeout_s=timer)
        except (WorkerTimeout, WorkerDied) as lost:
            self._discard()
            if timed is not None and isinstance(lost, WorkerTimeout):
                self._count_timeout(timed)
            return self._lost(lost, timer, earlier, time.perf_counter() - started)
        return _result(answer, self.limits, time.perf_counter() - started, self._texts)

    def _count_timeout(self, timed: tuple[str, str]) -> None:
        self._timed_out[timed] = self._timed_out.get(timed, 0) + 1

    def _lost(self, lost: WorkerTimeout | WorkerDied, timer: CallTimer, earlier: int, duration: float) -> CallResult:
        """The result of a call whose worker overran (and was killed) or died."""
        if isinstance(lost, WorkerTimeout):
            return CallResult("timeout", message=describe_timeout(timer, earlier=earlier), duration_s=duration)
        if lost.refused:
            return CallResult("unsupported", message=lost.refused, duration_s=duration)
        if lost.unreadable:
            message = f"returned a value that could not be rebuilt outside the sandbox ({lost.unreadable[:300]})"
            return CallResult("unsupported", message=message, duration_s=duration)
        return CallResult("crashed", message=self._death(lost), duration_s=duration)

    def _death(self, lost: WorkerDied) -> str:
        """Why the worker died, when its student's code did it; ``HelperLost`` when it did not."""
        death = explain(lost.exit, self.limits, stopped=lost.stopped, again=self.again)
        if death.fault != "student":
            self._lose(death.reason)
        return death.reason

    def _lose(self, reason: str) -> NoReturn:
        """This attempt cannot be graded fairly: a helper process died of something the student did not do."""
        self.lost = self.lost or reason
        self._discard()
        raise HelperLost(reason)

    def _import(self, worker: Worker, module: str, timeout: float) -> CallResult | None:
        # Module-level code (a notebook's training cell) gets the whole limit, on the own-time clock.
        timer = CallTimer(worker.clock, budget_s=timeout, cap_s=timeout)
        try:
            answer = worker.request({"op": "import", "module": module}, timeout_s=timer)
        except (WorkerTimeout, WorkerDied) as lost:
            self._discard()
            return self._import_failure(module, lost, timeout)
        self._imported_or_failed(module, answer)
        return self._load_failures.get(module)

    def _imported_or_failed(self, module: str, answer: dict[str, Any]) -> None:
        self.cell_stops.update(dict.fromkeys(read_stops(answer.get("stopped"))))
        if answer["status"] == "ok":
            self._imported.add(module)
            return
        message = self._texts.take(answer, "message", MAX_MESSAGE_CHARS)
        trace = self._texts.take(answer, "traceback", MAX_TRACEBACK_CHARS)
        output = self._texts.take(answer, "output", self.limits.output_bytes)
        self._load_failures[module] = CallResult(
            "load_failed",
            message=message,
            traceback=trace,
            output=output,
            digest=hashlib.blake2b(f"{message}\0{trace}\0{output}".encode(), digest_size=16).digest(),
        )

    def _import_failure(self, module: str, lost: WorkerTimeout | WorkerDied, timeout: float) -> CallResult:
        if isinstance(lost, WorkerTimeout):
            return CallResult("load_failed", message=f"importing {module} timed out after {timeout:g} s")
        reason = lost.refused or self._death(lost)
        return CallResult("load_failed", message=f"importing {module} {reason}")

    def _ensure_worker(self) -> Worker:
        if self.lost:
            raise HelperLost(self.lost)  # a check that swallowed the loss gets no new worker
        if self._worker is None:
            try:
                worker = Worker(
                    self.zygote,
                    scratch_root=self.scratch_root,
                    limits=self.limits,
                    budget=self._budget,
                    allowance=self._allowance,
                )
            except SandboxError as exc:
                self._lose(exc.message)
            self.layers = worker.layers
            try:
                answer = worker.init(self.files, timeout_s=WORKER_READY_TIMEOUT_S)
            except (WorkerTimeout, WorkerDied):
                worker.kill()
                self._lose("a sandbox worker could not receive the submission")
            if answer["status"] != "ok":
                worker.kill()
                raise SandboxError("a sandbox worker refused the submission")
            if not self._loaded_first(worker):
                return self._ensure_worker()
            self._worker = worker
            self._imported = set()
        return self._worker

    def _loaded_first(self, worker: Worker) -> bool:
        """Load ``_preload`` in a fresh worker, as module-level code; False if that stopped it (then none is loaded).

        All of them share one ``timeout_s``, the allowance of a module's own module-level code.
        """
        deadline = time.monotonic() + self.limits.timeout_s
        for name in self._preload.names:
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise WorkerTimeout
                # Loading a library is computing: all of the allowance may be.
                timer = CallTimer(worker.clock, budget_s=left, cap_s=left, cpu_fraction=1.0)
                worker.request({"op": "import", "module": name}, timeout_s=timer)  # a name that is none: no matter
            except (WorkerTimeout, WorkerDied):
                worker.kill()
                self._preload.useless(self._preload.names)
                return False
        return True

    def _discard(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
            self._imported = set()

    def close(self) -> None:
        self._discard()


def _may_hold_models(result: CallResult) -> bool:
    """Whether a value holds a module that stayed in its worker (encoded: whether it may; a false yes costs a rerun)."""
    if result.encoded:
        return codec.may_hold_remote(result.encoded)
    return bool(codec.remote_forwards(result.value))


class _Texts:
    """What the texts of one submission's answers may still take, in characters, over all its calls.

    Each text is cut to its own bound here (a forged answer may send any length),
    and all of them together to ``MAX_SUBMISSION_TEXT_CHARS``: what a student's
    report can hold of them, whatever escaping makes of each character.
    """

    def __init__(self) -> None:
        self.left = MAX_SUBMISSION_TEXT_CHARS

    def take(self, answer: dict[str, Any], name: str, limit: int, default: str = "") -> str:
        text = answer.get(name, default)
        if not isinstance(text, str):
            text = default
        if not text:  # most answers' texts: nothing to cut or to count
            return text
        keep = min(limit, max(self.left, 0))
        if len(text) > keep:
            why = "" if keep == limit else f": this submission sent more than {MAX_SUBMISSION_TEXT_CHARS:,} in all"
            text = text[:keep] + f"\n... [{len(text) - keep:,} more characters not shown{why}]"
        self.left -= len(text)
        return text


def _result(answer: dict[str, Any], limits: Limits, duration: float, texts: _Texts) -> CallResult:
    status = answer["status"]
    output = texts.take(answer, "output", limits.output_bytes)
    if status == "oom":
        return CallResult("oom", message=f"ran out of memory (limit {limits.describe_memory()})", output=output)
    if status == "raised":
        bases = answer.get("bases")
        return CallResult(
            "raised",
            message=texts.take(answer, "message", MAX_MESSAGE_CHARS),
            type_name=texts.take(answer, "type", MAX_TYPE_CHARS, "Exception"),
            bases=tuple(str(b)[:MAX_TYPE_CHARS] for b in bases[:MAX_BASES]) if isinstance(bases, list) else (),
            traceback=texts.take(answer, "traceback", MAX_TRACEBACK_CHARS),
            output=output,
            duration_s=duration,
            digest=answer.get("digest", b""),
        )
    if status == "stale":
        return CallResult("stale", message=STALE_MESSAGE, output=output, duration_s=duration)
    if status in ("ok", "not_implemented", "missing", "unsupported"):
        return CallResult(
            status,
            value=answer.get("value"),
            message=texts.take(answer, "message", MAX_MESSAGE_CHARS),
            output=output,
            duration_s=duration,
            digest=answer.get("digest", b""),
            encoded=answer.get("encoded", b""),
            owner=answer.get("owner"),
            evicted=bool(answer.get("evicted")),
        )
    return CallResult("crashed", message="crashed: the worker sent an answer the grader does not understand")
