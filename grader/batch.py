"""Grade a whole class: parallel grading processes, a per-student cache, nothing lost on interruption.

One zygote per batch forks the grading processes (``grader.engine``) as well
as every worker, so torch is imported once per batch, by the zygote: this
process never imports it. Each grading process runs its own ``Grader``
(checks collected once) on the submissions it asks for. This process only
reads submissions, which runs no student code, and writes outputs: each
student's files as soon as their report arrives, atomically, then a cache
entry, so a batch killed at any moment resumes with only the missing students.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path

from grader import __version__
from grader.assignment import Assignment, bundled_assignment_path
from grader.engine import Setup
from grader.errors import OutputError, SandboxError
from grader.models import ClassReport, Report
from grader.output import write_atomic
from grader.roster import Roster, open_roster, read_submission
from grader.sandbox.client import Zygote, allowed_cpus
from grader.sandbox.limits import Limits
from grader.sandbox.scratch import make_root, remove_tree
from grader.similarity import find_similar
from grader.submission import Submission

CACHE_DIR = ".cache"


@dataclass(frozen=True)
class Progress:
    """What a progress display needs after each student."""

    done: int
    total: int
    student: str
    percent: float
    cached: bool


def read_class(roster: Roster, assignment: Assignment) -> dict[str, Submission]:
    """Every student's submission, by id; reading runs no student code."""
    return {student.id: read_submission(student, assignment) for student in roster.students}


def cache_key(submission: Submission, assignment: Assignment, limits: Limits, fingerprint: str) -> str:
    """Everything that decides this student's grade, hashed."""
    digest = hashlib.sha256()
    for part in (
        __version__,
        fingerprint,
        json.dumps(limits.to_dict(), sort_keys=True),
        submission.name,
        submission.digest,
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


class Cache:
    """One JSON file per graded student, keyed by ``cache_key``; unreadable entries are misses."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> Report | None:
        path = self.root / f"{key}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("key") != key:
                return None
            return Report.from_dict(data["report"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # missing or corrupt: grade again

    def put(self, key: str, report: Report) -> None:
        # Not durable: a torn or lost entry is a miss (get() checks the key), never a wrong grade.
        write_atomic(self.root / f"{key}.json", json.dumps({"key": key, "report": report.to_dict()}), durable=False)


def grade_class(
    source: Roster | Path,
    out_dir: Path,
    assignment: Assignment,
    *,
    layout: str | None = None,
    jobs: int | None = None,
    force: bool = False,
    limits: Limits | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    write_student: Callable[[Path, Report], None] | None = None,
    on_roster: Callable[[Roster], None] | None = None,
) -> ClassReport:
    """Grade every student of ``source`` on the whole assignment; write per-student outputs as they come.

    ``source`` is a roster (see ``grader.roster``), or a folder or .zip read
    into one here, its layout detected unless ``layout`` forces it.
    ``on_roster`` hears who the students are before anyone is graded.
    ``write_student(out_dir / student, report)`` writes one student's files
    (the CLI passes the HTML and JSON renderers). Returns the class report;
    the caller writes the class-wide outputs from it.
    """
    limits = limits or assignment.limits
    workers = max(1, jobs or os.cpu_count() or 1)
    try:  # fail before grading anyone, not after the first student
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    if isinstance(source, Roster):
        roster = source
        submissions = read_class(roster, assignment)
    else:  # a zip's extracted files live only while they are read
        with open_roster(source, layout=layout) as roster:
            submissions = read_class(roster, assignment)
    if on_roster is not None:
        on_roster(roster)
    students = {student.id: student for student in roster.students}
    cache = Cache(out_dir / CACHE_DIR)
    fingerprint = assignment.fingerprint()
    keys = {name: cache_key(sub, assignment, limits, fingerprint) for name, sub in submissions.items()}
    reports: dict[str, Report] = {}
    done = 0

    def finished(report: Report, *, cached: bool) -> None:
        nonlocal done
        student = students[report.student]  # who they are comes from the roster, never from the cache
        report = replace(report, name="" if student.name == student.id else student.name, late=student.late)
        if write_student is not None:
            write_student(out_dir / report.student, report)
        if not cached:
            cache.put(keys[report.student], report)
        reports[report.student] = report
        done += 1
        if on_progress is not None:
            on_progress(Progress(done, len(submissions), report.student, report.percent, cached))

    errors: list[str] = []
    pending = []
    for name, submission in submissions.items():
        hit = None if force else cache.get(keys[name])
        if hit is not None and hit.student == name:
            finished(hit, cached=True)
        else:
            pending.append(submission)
    if pending:
        try:
            for report in _grade_parallel(pending, assignment, limits, min(workers, len(pending))):
                finished(report, cached=False)
        except SandboxError as exc:  # the others' outputs are still written; the caller reports it
            errors.append(exc.message)
    ordered = tuple(reports[student.id] for student in roster.students if student.id in reports)
    return ClassReport(
        assignment=assignment.title,
        reports=ordered,
        exercise_titles=assignment.titles(),
        similar=find_similar(submissions, assignment),
        errors=tuple(errors),
        layout=roster.layout,
        layout_title=roster.title,
        layout_detected=roster.detected,
        unattributed=roster.unattributed,
    )


def _grade_parallel(
    submissions: list[Submission], assignment: Assignment, limits: Limits, workers: int
) -> Iterator[Report]:
    """Hand submissions out to ``workers`` grading processes; yield reports as they arrive.

    The grading processes are forked by the zygote (see ``grader.engine``), so
    this process never imports torch. A submission whose grading process died
    is retried once in a fresh one; if it kills that one too, the batch goes
    on and a ``SandboxError`` names it at the end.
    """
    remaining = {s.name: s for s in submissions}
    attempts = 0
    errors: list[str] = []
    while remaining and attempts < 2:
        attempts += 1
        errors = []
        yield from _attempt(remaining, assignment, limits, workers, errors)
    if remaining:
        detail = "; ".join(dict.fromkeys(errors)) or "its grading process died"
        raise SandboxError(f"could not grade {', '.join(sorted(remaining))}: {detail}")


def _attempt(
    remaining: dict[str, Submission], assignment: Assignment, limits: Limits, workers: int, errors: list[str]
) -> Iterator[Report]:
    """One round over ``remaining``: a fresh zygote and its grading processes, until they finish or die.

    Each graded student leaves ``remaining``; what went wrong goes to ``errors``.
    """
    pending = list(reversed(remaining.values()))
    cpus = allowed_cpus()
    try:
        zygote = Zygote().start()
    except SandboxError as exc:
        errors.append(exc.message)
        return
    # Every worker folder of this round lives here; removed below even if a
    # grading process was killed (Ctrl-C) before it could remove its own.
    scratch = make_root("grader-batch-")
    engines: dict[Connection, int] = {}
    try:
        for index in range(min(workers, len(pending))):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                pid = zygote.fork_engine(theirs)
            except SandboxError as exc:
                ours.close()
                errors.append(exc.message)
                break
            finally:
                theirs.close()
            channel = Connection(ours.detach())
            # One CPU per grading process, shared with its workers, when there are
            # enough: each call's hand-over is then a context switch, not a wake-up
            # on another CPU.
            cpu = cpus[index % len(cpus)] if cpus and workers <= len(cpus) else None
            engines[channel] = pid
            with contextlib.suppress(OSError):  # one that died at once is seen below, as closed
                channel.send(Setup(assignment, limits, tempfile.gettempdir(), str(scratch), cpu))
        live = set(engines)
        finished: set[Connection] = set()
        while live:
            for channel in [ready for ready in wait(list(live)) if isinstance(ready, Connection)]:
                try:
                    kind, payload = channel.recv()
                except (EOFError, OSError):  # the grading process died
                    live.discard(channel)
                    continue
                if kind == "next":
                    try:
                        channel.send(pending.pop() if pending else None)
                    except OSError:  # it died after asking: its submission is still in ``remaining``
                        live.discard(channel)
                elif kind == "report":
                    report = Report.from_dict(payload)
                    if remaining.pop(report.student, None) is not None:
                        yield report
                elif kind == "error":
                    errors.append(str(payload))
                elif kind == "done":
                    live.discard(channel)
                    finished.add(channel)
    finally:
        for channel, pid in engines.items():
            channel.close()
            if channel not in finished:  # a finished one is exiting: let it clean up
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            # Reaped by the zygote, its parent: its CPU time then counts in the
            # zygote's, which this process waits for.
            zygote.reap(pid)
        zygote.close()  # which kills the workers of any grading process killed above
        remove_tree(scratch)


def default_class_dir() -> Path:
    """The bundled sample class, so the README's main command works on a fresh clone."""
    return bundled_assignment_path() / "samples" / "class"
