"""How long one call of student code may run, measured on a clock that load does not move.

A call's *own time* is the real time since the request was sent, minus the
time the worker spent waiting for a CPU (the kernel's run delay, from
``/proc/<pid>/schedstat``). It counts computing and sleeping alike, so a
``time.sleep`` loop times out as surely as a busy loop, and it does not grow
when other processes take the CPU: the same call gets the same verdict on an
idle machine and on a busy one.

A call gets ``Limits.budget_s`` (1 s) of own time, of which at most half
(``CPU_FRACTION``) computing: CPU time, from the same file, which load does
not move either. A correct answer needs microseconds: a 0.3 s loop and a
0.4 s sleep are well within the limits, and an endless busy loop costs half
a second of CPU rather than a whole one. When a call is still running at its
limits, the reference solution is timed on the same arguments, and a slow
exercise gets ``REFERENCE_FACTOR`` times the reference's time instead (own
time and computing alike),
rounded up to 1, 2 or 5 times a power of ten; never more than
``Limits.timeout_s``, the teacher's upper bound. Timing the reference takes
the grader's own time, in which it does not watch the worker and the call's
own time runs on: a call found out of time right after it (``looked_away``)
is read if its answer came meanwhile, not taken for a timeout. A function that timed out
once in a submission gets a tenth of its floors on its later calls, and a
fiftieth once it has timed out twice (``REPEAT_FRACTIONS``): those that return
at once still earn their points, and an endless loop costs the class about one
second, not one timeout per check. A call never
holds its grading process longer than ``WALL_FACTOR`` times its budget (at
least ``timeout_s``) of real time, however busy the machine.

Nothing the worker says moves these clocks: loading a library during a call
counts like the rest, and a call that runs out of time while starting to load
modules is tried once more in a worker that loaded them first
(``loading.py``).

Where the kernel keeps no scheduler statistics, own time is real time and
computing is not limited apart from it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable

#: A slow exercise's budget, as a multiple of the reference solution's time on the same arguments.
REFERENCE_FACTOR = 10
#: After one timeout, then after two or more, the floor of the same function's later calls,
#: as fractions of ``Limits.budget_s``: an endless loop costs about a second, however many checks call it.
REPEAT_FRACTIONS = (0.1, 0.02)
#: The most CPU time a call may compute, as a fraction of its own-time floor (a slow exercise's raised budget: all).
CPU_FRACTION = 0.5
#: The most real time a call may take, as a multiple of its budget (and at least ``timeout_s``).
WALL_FACTOR = 10
#: The shortest wait between two readings of the run delay.
_MIN_WAIT_S = 0.005

#: When a request started, as a ``CallTimer`` reads it: ``time.monotonic()``, then the worker's CPU
#: time and run delay (``OwnClock.sample``), all in seconds.
Start = tuple[float, float, float]


class OwnClock:
    """A process's run delay: how long it has waited for a CPU while ready to run."""

    def __init__(self, pid: int) -> None:
        self._fd: int | None = None
        with contextlib.suppress(OSError):
            self._fd = os.open(f"/proc/{pid}/schedstat", os.O_RDONLY | os.O_CLOEXEC)
        # Without scheduler statistics the kernel shows "0 0 0"; a worker that has answered has been scheduled.
        if self._fields() in (None, [0, 0, 0]):
            self.close()

    @property
    def active(self) -> bool:
        """Whether the kernel reports run delays (else own time is real time)."""
        return self._fd is not None

    def run_delay_s(self) -> float:
        return self.sample()[1]

    def start(self) -> Start:
        """Now, as the start of a request: what ``CallTimer`` reads when it is made (see its ``start``)."""
        return (time.monotonic(), *self.sample())

    def sample(self) -> tuple[float, float]:
        """The process's CPU time and run delay, in seconds: one pread of a file kept open."""
        if self._fd is None:
            return 0.0, 0.0
        try:
            fields = os.pread(self._fd, 96, 0).split(None, 2)
            return int(fields[0]) / 1e9, int(fields[1]) / 1e9
        except (OSError, ValueError, IndexError):
            return 0.0, 0.0

    def _fields(self) -> list[int] | None:
        if self._fd is None:
            return None
        try:
            fields = [int(f) for f in os.pread(self._fd, 96, 0).split()]
        except (OSError, ValueError):
            return None
        return fields if len(fields) >= 3 else None

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def nice_ceiling(seconds: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``seconds``: budgets a student can read."""
    if seconds <= 0:
        return 0.0
    power = 10.0 ** math.floor(math.log10(seconds))
    for step in (1, 2, 5, 10):
        if seconds <= step * power * (1 + 1e-9):
            return float(f"{step * power:.6g}")
    return 10 * power


class CallTimer:
    """The limits of one request: its own-time budget and its real-time backstop.

    ``remaining`` is cheap while the budget cannot have been spent yet (own
    time never runs faster than real time); only then does it read the run
    delay, and once the floor is spent it asks ``reference_s`` (at most once)
    whether the exercise deserves more. One is made per call: slots, no dataclass.
    ``start`` (``OwnClock.start``) dates it from an earlier moment than its making.
    """

    __slots__ = (
        "_cpu_at_start",
        "_delay_at_start",
        "_waited",
        "budget_s",
        "cap_s",
        "clock",
        "cpu_s",
        "expired",
        "looked_away",
        "now",
        "raised",
        "reference",
        "reference_s",
        "started",
    )

    def __init__(
        self,
        clock: OwnClock,
        *,
        budget_s: float,
        cap_s: float,
        reference_s: Callable[[], float | None] | None = None,
        now: Callable[[], float] = time.monotonic,
        cpu_fraction: float = CPU_FRACTION,
        start: Start | None = None,
    ) -> None:
        self.clock = clock
        self.budget_s = min(budget_s, cap_s)
        #: The most it may compute (CPU time); None where the kernel does not say.
        self.cpu_s: float | None = cpu_fraction * self.budget_s if clock.active else None
        self.cap_s = cap_s
        self.reference_s = reference_s
        #: What ``reference_s`` answered, once asked.
        self.reference: float | None = None
        #: Whether the budget was raised to fit the reference's time.
        self.raised = False
        #: Why the request ran out: "budget" (its own time), "cpu" (computing) or "wall" (the real-time backstop).
        self.expired = ""
        #: Whether the ``remaining`` that last said 0 timed the reference first: the grader was not watching the
        #: channel then, and an answer that came meanwhile must be looked for before the call is said to be late.
        self.looked_away = False
        self.now = now
        if start is None:
            self.started = now()
            self._cpu_at_start, self._delay_at_start = clock.sample()
        else:
            self.started, self._cpu_at_start, self._delay_at_start = start
        self._waited = 0.0

    @property
    def wall_s(self) -> float:
        return max(self.cap_s, WALL_FACTOR * self.budget_s)

    def _left(self, now: float) -> float:
        """Own time left."""
        return self.budget_s - (now - self.started - self._waited)

    def remaining(self) -> float:
        """Seconds to wait before asking again; 0 once the request has run out of time."""
        self.looked_away = False
        now = self.now()
        wall_left = self.started + self.wall_s - now
        if wall_left <= 0:
            self.expired = "wall"
            return 0.0
        left = self._left(now)
        # CPU time never runs faster than real time: until then, no reading is needed.
        computing_left = math.inf if self.cpu_s is None else self.cpu_s - (now - self.started)
        if left > 0 and computing_left > 0:
            return min(left, computing_left, wall_left)
        cpu, delay = self.clock.sample()
        self._waited = delay - self._delay_at_start
        left = self._left(self.now())
        computing_left = math.inf if self.cpu_s is None else self.cpu_s - (cpu - self._cpu_at_start)
        if (left <= 0 or computing_left <= 0) and self._raise_budget():
            left = self.remaining()
            self.looked_away = True  # timing the reference took the grader's time, in which own time ran on
            return left
        if computing_left <= 0:
            self.expired = "cpu"
            return 0.0
        if left <= 0:
            self.expired = "budget"
            return 0.0
        return min(max(min(left, computing_left), _MIN_WAIT_S), wall_left)

    def _raise_budget(self) -> bool:
        if self.reference_s is None:
            return False
        ask, self.reference_s = self.reference_s, None
        self.reference = ask()
        if self.reference is None:
            return False
        raised = min(self.cap_s, nice_ceiling(REFERENCE_FACTOR * self.reference))
        if raised <= self.budget_s:
            return False
        # A slow exercise's budget is its limit on computing too.
        self.budget_s, self.raised = raised, True
        if self.cpu_s is not None:
            self.cpu_s = raised
        return True


def repeat_floor(budget_s: float, earlier: int) -> float:
    """The floor of a call whose function has timed out ``earlier`` times in this submission."""
    if earlier <= 0:
        return budget_s
    return budget_s * REPEAT_FRACTIONS[min(earlier, len(REPEAT_FRACTIONS)) - 1]


def describe_timeout(timer: CallTimer, *, earlier: int = 0) -> str:
    """What a student reads: how long the call had, and why that long (``earlier``: the function's timeouts before)."""
    budget = f"{timer.budget_s:g} s"
    computing = timer.expired == "cpu" and timer.cpu_s is not None and timer.cpu_s < timer.budget_s
    spent = f"{timer.cpu_s:g} s of computing" if computing else budget
    if timer.expired == "wall":
        # Only waiting for a CPU stretches real time past its own: the machine's load, or the call's own threads.
        return (
            f"timed out: no answer after {timer.wall_s:g} s of real time, most of it spent waiting for a CPU "
            f"(it had {budget} of its own time)"
        )
    if earlier:
        times = "once" if earlier == 1 else "twice"
        return f"timed out again, after {spent}: once a function has timed out {times}, its later calls get {budget}"
    head = f"timed out after {spent}"
    if computing:
        head += f", the most a call may compute (it may run {budget})"
    elif timer.budget_s >= timer.cap_s:
        head += ", the assignment's limit per call"
    elif timer.raised:
        head += f", {REFERENCE_FACTOR} times what the reference solution takes"
    why = "an endless loop, or far too slow?"
    if timer.reference is not None:
        why += f" The reference solution answers in {describe_seconds(timer.reference)}."
    return f"{head} ({why})"


def describe_seconds(seconds: float) -> str:
    """A duration as a student reads it, coarse enough to be the same on every run."""
    if seconds < 1e-3:
        return "under a millisecond"
    if seconds < 1:
        return f"about {float(f'{seconds * 1000:.1g}'):g} ms"
    return f"about {float(f'{seconds:.1g}'):g} s"
