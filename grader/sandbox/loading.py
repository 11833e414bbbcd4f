"""Loading modules during a call: what a worker says it started loading, read with bounds.

torch's first ``optim.SGD(...)`` in a fresh worker imports ``torch._dynamo``,
about a second of CPU: more than a call's budget. That time is not the
student's, but the worker is the student's process, so nothing it says about
it can move a budget. The worker names each module a call starts loading
(one notice per module, before it loads); a call that then runs out of time
is run once more in a fresh worker that has loaded those modules first, as
module-level code (``SubmissionRunner``); if that brought it within its
budget, later fresh workers load them too. The budget itself never stops: a
forged notice buys one more try of the same budget, which a call that is too
slow or endless fails again, and never a point.

A notice costs the grader one frame's parsing, so the grader reads at most
``MAX_NOTICES`` of them from a worker: the honest worker names a module once,
and stops naming at ``WORKER_NAMES``; more is a forged stream, and the worker
is stopped.
"""

from __future__ import annotations

import re

#: The first bytes of a notice frame; the module's name follows. No answer starts so: an answer
#: starts with the length of its facts, and 0xFFFF... is far longer than any frame.
NOTICE = b"\xff\xffloading "
#: The most notices the grader reads from one worker; past them the worker is stopped.
MAX_NOTICES = 256
#: The most modules the honest worker names (each once), well below ``MAX_NOTICES``.
WORKER_NAMES = 64
#: The most modules a submission's fresh workers load before its calls.
MAX_PRELOAD = 8
#: The most calls of a submission that get one more try, modules loaded first (one per function).
MAX_RETRIES = 2
#: The longest module name kept.
MAX_NAME = 200
_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


class TooManyNotices(Exception):
    """A worker sent more notices than any honest one does."""

    def __str__(self) -> str:
        return f"sent more than {MAX_NOTICES} notices of loading a module, more than any import needs"


def notice(name: str) -> bytes:
    """The frame a worker sends as a call starts loading ``name``."""
    return NOTICE + name.encode("ascii", "replace")[:MAX_NAME]


class Notices:
    """The notices one worker sent: counted over its life, the names since its last answer kept."""

    __slots__ = ("count", "pending")

    def __init__(self) -> None:
        self.count = 0
        #: Modules named since the last answer (at most ``MAX_PRELOAD``): a call that runs out of time started them.
        self.pending: list[str] = []

    def take(self, frame: bytes | bytearray) -> bool:
        """Whether ``frame`` is a notice (then kept); ``TooManyNotices`` past ``MAX_NOTICES``."""
        if not frame.startswith(NOTICE):
            return False
        self.count += 1
        if self.count > MAX_NOTICES:
            raise TooManyNotices
        name = frame[len(NOTICE) :]
        if len(name) <= MAX_NAME and _NAME.fullmatch(name) and len(self.pending) < MAX_PRELOAD:
            text = name.decode("ascii")
            if text not in self.pending:
                self.pending.append(text)
        return True

    def answered(self) -> None:
        """An answer arrived: the names before it belong to a call that ended in time."""
        self.pending.clear()


class Preload:
    """The modules a submission's fresh workers load before its own, and the calls tried once more for them."""

    __slots__ = ("_tried", "_useless", "names")

    def __init__(self) -> None:
        self.names: list[str] = []
        self._tried: set[tuple[str, str]] = set()
        self._useless: set[str] = set()

    def more_try(self, pending: list[str], call: tuple[str, str]) -> list[str]:
        """The modules to load first for one more try of ``call`` (then loaded by fresh workers), or none.

        None unless the worker named modules that fresh workers do not load
        yet and that did not prove useless, ``call`` (module, function) has
        not had its try, and the submission has tries and room left
        (``MAX_RETRIES``, ``MAX_PRELOAD``).
        """
        fresh = [name for name in pending if name not in self.names and name not in self._useless]
        names = fresh[: MAX_PRELOAD - len(self.names)]
        if not names or call in self._tried or len(self._tried) >= MAX_RETRIES:
            return []
        self._tried.add(call)
        self.names.extend(names)
        return names

    def useless(self, names: list[str]) -> None:
        """Loading ``names`` did not bring a call within its budget, or could not finish: never loaded again."""
        self._useless.update(names)
        self.names = [name for name in self.names if name not in self._useless]
