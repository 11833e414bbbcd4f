"""Grade a whole class: parallel grading processes, a per-student cache, nothing lost on interruption.

One zygote per batch forks the first grading process (``grader.engine``) as
well as every worker, so torch is imported once per batch, by the zygote:
this process never imports it. The first grading process collects the
checks and forks the others, and each runs its own ``Grader`` on the
submissions it asks for. This process only
reads submissions, which runs no student code, and writes outputs: each
student's files as soon as their report arrives, atomically, then a cache
entry, so a batch killed at any moment resumes with only the missing students.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Protocol

from grader import __version__
from grader.assignment import Assignment, bundled_assignment_path
from grader.engine import Setup, send_submission
from grader.errors import IncompleteError, OutputError, SandboxError, UsageError
from grader.models import ClassReport, Report, SimilarCluster
from grader.output import CACHE_DIR, Stamp, write_atomic
from grader.roster import Roster, Student, open_roster, parse_submission, read_student_files, read_submission
from grader.sandbox.client import Zygote, allowed_cpus
from grader.sandbox.limits import Limits
from grader.sandbox.protocol import MAX_ENGINES
from grader.sandbox.scratch import make_root, remove_tree
from grader.similarity import SIMILARITY_VERSION, find_similar
from grader.submission import Submission, content_digest

__all__ = ["CACHE_DIR", "Cache", "Progress", "cache_key", "default_class_dir", "grade_class", "similarity_key"]


@dataclass(frozen=True)
class Progress:
    """What a progress display needs after each student."""

    done: int
    total: int
    student: str
    percent: float
    cached: bool


def cache_key(student: str, digest: str, limits: Limits, fingerprint: str) -> str:
    """Everything that decides this student's grade, hashed: ``digest`` is their files' ``content_digest``."""
    digest_of = hashlib.sha256()
    for part in (__version__, fingerprint, json.dumps(limits.to_dict(), sort_keys=True), student, digest):
        digest_of.update(part.encode() + b"\0")
    return digest_of.hexdigest()


@dataclass(frozen=True)
class Cached:
    """A cache entry: the report, the stamps of the files last written from it, and the entry's own digest."""

    report: Report
    outputs: Mapping[str, Stamp]
    digest: str


class Cache:
    """One JSON file per graded student, keyed by ``cache_key``; unreadable entries are misses.

    Besides the report, an entry records the stamps of the student's files as
    written from it, so that a re-run leaves files that are still current
    alone. ``similar/`` holds one entry per state of the whole class (every
    student's files): its similarity clusters.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _read(self, folder: Path, key: str) -> tuple[dict[str, Any], str]:
        """The entry stored under ``key`` and its digest; ``{}`` when it is missing, corrupt or another key's."""
        try:
            raw = (folder / f"{key}.json").read_bytes()
            data = json.loads(raw)
        except (OSError, ValueError):
            return {}, ""
        if not isinstance(data, dict) or data.get("key") != key:
            return {}, ""
        return data, hashlib.sha256(raw).hexdigest()

    def get(self, key: str) -> Cached | None:
        data, digest = self._read(self.root, key)
        try:
            report = Report.from_dict(data["report"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # missing or corrupt: grade again
        try:
            outputs = {str(name): _stamp(value) for name, value in data.get("outputs", {}).items()}
        except (ValueError, TypeError, AttributeError):
            outputs = {}  # the report is sound; its files are simply written again
        return Cached(report, outputs, digest)

    def put(self, key: str, report: str, outputs: Mapping[str, Stamp] | None = None) -> str:
        """Store an entry: ``report`` is the report's ``Report.to_json()``. Returns its digest, as ``get`` will give it.

        The entry is ``json.dumps({"key": ..., "report": report.to_dict(), "outputs": ...})``, its
        report put in as already encoded: an object's JSON is its members' JSON, joined by ", ".
        """
        outputs_json = json.dumps(dict(outputs or {}))
        raw = f'{{"key": {json.dumps(key)}, "report": {report}, "outputs": {outputs_json}}}'.encode()
        # Not durable: a torn or lost entry is a miss (get() checks the key), never a wrong grade.
        write_atomic(self.root / f"{key}.json", raw, durable=False)
        return hashlib.sha256(raw).hexdigest()

    def get_similar(self, key: str) -> tuple[SimilarCluster, ...] | None:
        data, _ = self._read(self.root / "similar", key)
        try:
            return tuple(SimilarCluster.from_dict(c) for c in data["similar"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def put_similar(self, key: str, clusters: tuple[SimilarCluster, ...]) -> None:
        entry = {"key": key, "similar": [c.to_dict() for c in clusters]}
        write_atomic(self.root / "similar" / f"{key}.json", json.dumps(entry), durable=False)


def _stamp(value: object) -> Stamp:
    if not isinstance(value, list) or len(value) != 4 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"not a stamp: {value!r}")
    return (value[0], value[1], value[2], value[3])


def similarity_key(digests: Mapping[str, str], assignment: Assignment) -> str:
    """What decides a class's similarity clusters: every student's files, and the stubs (whose code is ignored)."""
    digest = hashlib.sha256(f"{__version__}\0{SIMILARITY_VERSION}\0".encode())
    for exercise in assignment.exercises:
        digest.update(exercise.name.encode() + b"\0" + exercise.stub.read_bytes() + b"\0")
    for student in sorted(digests):
        digest.update(f"{student}\0{digests[student]}\0".encode())
    return digest.hexdigest()


class WriteStudent(Protocol):
    """Writes one student's files; ``written`` is what it returned for the same report before."""

    def __call__(self, folder: Path, report: Report, *, written: Mapping[str, Stamp] | None) -> Mapping[str, Stamp]:
        """Return the stamps of the files as written (or left alone because they were current)."""
        ...


#: The cyclic collector's first threshold while a class is read and graded (CPython's default is 700).
BATCH_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def _collecting_less() -> Iterator[None]:
    """The cyclic collector's first threshold raised to ``BATCH_GC_THRESHOLD`` within, then restored.

    Reading a class parses every submission (thousands of syntax-tree nodes
    each), and every report read back (hundreds of objects) is kept until the
    class files are written. At the default threshold the collector ran 694
    times while a class of 200 was read and graded, walking those live objects
    again and again (0.11-0.13 s, about 5% of this process's CPU) to free
    some 1,100 objects held in cycles. They are still freed, in larger rounds
    (8 over the same class, 0.02-0.03 s).
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], BATCH_GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@_collecting_less()
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
    write_student: WriteStudent | None = None,
    on_roster: Callable[[Roster], None] | None = None,
) -> ClassReport:
    """Grade every student of ``source`` on the whole assignment; write per-student outputs as they come.

    ``source`` is a roster (see ``grader.roster``), or a folder or .zip read
    into one here, its layout detected unless ``layout`` forces it.
    ``on_roster`` hears who the students are before anyone is graded.
    ``write_student(out_dir / student, report, written=...)`` writes one
    student's files (the CLI passes ``write_student_outputs``). A student whose
    cache entry is current costs a read of their files and of the entry: their
    submission is not parsed, and their files are not written again unless
    they changed since. Returns the class report; the caller writes the
    class-wide outputs from it.
    """
    limits = limits or assignment.limits
    workers = max(1, jobs or os.cpu_count() or 1)
    try:  # fail before grading anyone, not after the first student
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_dir}: {exc.strerror or exc}") from None
    cache = Cache(out_dir / CACHE_DIR)
    fingerprint = assignment.fingerprint()
    if isinstance(source, Roster):
        roster = source
        read = _read_class(roster, assignment, cache, limits, fingerprint, force=force)
    else:  # a zip's extracted files live only while they are read
        with open_roster(source, layout=layout) as roster:
            read = _read_class(roster, assignment, cache, limits, fingerprint, force=force)
    if on_roster is not None:
        on_roster(roster)
    students = {student.id: student for student in roster.students}
    reports: dict[str, Report] = {}
    stored: dict[str, str] = {}  # student -> digest of their cache entry as it now is
    done = 0

    def finished(graded: Report, *, hit: Cached | None = None, key: str) -> None:
        nonlocal done
        student = students[graded.student]  # who they are comes from the roster, never from the cache
        report = replace(graded, name="" if student.name == student.id else student.name, late=student.late)
        # A cache entry's report is the one its files were written from: the roster may have renamed them since.
        current = hit if hit is not None and hit.report == report else None
        entry = current.digest if current else ""
        # A report without a current entry gets one, written after its files (it records their stamps). Its text
        # is made first: the same dict then makes ``report.result_json``, their result.json and results.json's.
        text = report.to_json() if current is None else None
        if write_student is not None:
            outputs = write_student(out_dir / report.student, report, written=current.outputs if current else None)
            if current is None or outputs != current.outputs:
                entry = cache.put(key, text or report.to_json(), outputs)
        elif text is not None:
            entry = cache.put(key, text)
        reports[report.student] = report
        stored[report.student] = entry
        done += 1
        if on_progress is not None:
            on_progress(Progress(done, len(students), report.student, report.percent, hit is not None))

    for hit, key in read.hits:
        finished(hit.report, hit=hit, key=key)
    errors: list[str] = []
    if read.pending:
        try:
            distinct, copies = _distinct(read.pending)
            for report in _grade_parallel(distinct, assignment, limits, min(workers, len(distinct))):
                finished(report, key=read.keys[report.student])
                for twin in copies.get(report.student, ()):
                    finished(replace(report, student=twin), key=read.keys[twin])
        except SandboxError as exc:  # the others' outputs are still written; the caller reports it
            errors.append(exc.message)
    ordered = tuple(reports[student.id] for student in roster.students if student.id in reports)
    return ClassReport(
        assignment=assignment.title,
        reports=ordered,
        exercise_titles=assignment.titles(),
        similar=read.similar,
        errors=tuple(errors),
        layout=roster.layout,
        layout_title=roster.title,
        layout_detected=roster.detected,
        unattributed=roster.unattributed,
        clashes=roster.clashes,
        fingerprint=_class_state(
            assignment, [stored[r.student] for r in ordered], read.similar_key, [*errors, *roster.clashes]
        ),
    )


def _distinct(submissions: list[Submission]) -> tuple[list[Submission], dict[str, list[str]]]:
    """One submission of each content, and who else handed in the very same files.

    Grading is deterministic, so byte-identical submissions (the same files
    under the same names, met with the same problems) earn the same report:
    one is graded, each copy gets its report under its own name. A class
    where many hand in the untouched hand-out, or the same copied answer,
    pays for each once.
    """
    first: dict[tuple[str, tuple[str, ...]], str] = {}
    distinct: list[Submission] = []
    copies: dict[str, list[str]] = {}
    for submission in submissions:
        content = (submission.digest, submission.problems)
        if submission.digest and content in first:
            copies.setdefault(first[content], []).append(submission.name)
            continue
        first[content] = submission.name
        distinct.append(submission)
    return distinct, copies


@dataclass(frozen=True)
class _ClassRead:
    """A class as read: who is cached, who is to be graded (parsed), and its similarity clusters."""

    hits: list[tuple[Cached, str]]
    pending: list[Submission]
    #: The cache key of each pending student, by id.
    keys: dict[str, str]
    similar: tuple[SimilarCluster, ...]
    similar_key: str


def _read_class(
    roster: Roster, assignment: Assignment, cache: Cache, limits: Limits, fingerprint: str, *, force: bool
) -> _ClassRead:
    """Read every student's files; parse only those the cache does not know, and the whole class for similarity.

    Runs while the roster's files exist (a zip's are extracted meanwhile).
    """
    digests: dict[str, str] = {}
    hits: list[tuple[Cached, str]] = []
    pending: list[Submission] = []
    keys: dict[str, str] = {}
    for student in roster.students:
        raw, problems = read_student_files(student)
        digests[student.id] = content_digest(raw)
        key = cache_key(student.id, digests[student.id], limits, fingerprint)
        hit = None if force else cache.get(key)
        if hit is not None and hit.report.student == student.id:
            hits.append((hit, key))
        else:  # parsed now, while its files are at hand
            pending.append(parse_submission(raw, assignment, name=student.id, problems=problems))
            keys[student.id] = key
    similar_key = similarity_key(digests, assignment)
    similar = cache.get_similar(similar_key)
    if similar is None:
        parsed = {s.name: s for s in pending}
        others: list[Student] = [student for student in roster.students if student.id not in parsed]
        parsed.update((student.id, read_submission(student, assignment)) for student in others)
        similar = find_similar(parsed, assignment)
        cache.put_similar(similar_key, similar)
    return _ClassRead(hits, pending, keys, similar, similar_key)


def _class_state(assignment: Assignment, entries: list[str], similar_key: str, errors: list[str]) -> str:
    """The ``ClassReport.fingerprint``: the digests of the students' cache entries, in order, and the rest.

    An entry's digest changes whenever its report does (a regrade under
    ``--force`` changes the timings, which junit.xml shows), so equal
    fingerprints mean equal class files.
    """
    digest = hashlib.sha256(
        json.dumps([__version__, assignment.title, assignment.titles(), similar_key, errors]).encode()
    )
    for entry in entries:
        digest.update(entry.encode() + b"\0")
    return digest.hexdigest()


def _grade_parallel(
    submissions: list[Submission], assignment: Assignment, limits: Limits, workers: int
) -> Iterator[Report]:
    """Hand submissions out to ``workers`` grading processes; yield reports as they arrive.

    The zygote forks the first grading process, which forks the others (see
    ``grader.engine``), so this process never imports torch. A submission whose grading process died
    (or lost its workers to something it did not do) is retried once on fresh
    processes; if that fails too, the batch goes on and an ``IncompleteError``
    names it at the end: nothing of it is cached, so a re-run grades it.
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
        raise IncompleteError(f"could not grade {', '.join(sorted(remaining))}: {detail}")


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
    #: Each grading process's channel, and the pid of the first of its group (``Zygote.fork_engines``).
    engines: dict[Connection, int] = {}
    #: The channels still open: their grading process has neither said it is done nor died.
    live: set[Connection] = set()
    try:
        count = min(workers, len(pending))
        for first in range(0, count, MAX_ENGINES):
            pairs = [
                socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(min(MAX_ENGINES, count - first))
            ]
            try:
                leader = zygote.fork_engines([theirs for _, theirs in pairs])
            except SandboxError as exc:
                for ours, _ in pairs:
                    ours.close()
                errors.append(exc.message)
                break
            finally:
                for _, theirs in pairs:
                    theirs.close()
            for index, (ours, _) in enumerate(pairs, start=first):
                channel = Connection(ours.detach())
                # One CPU per grading process, shared with its workers, when there are
                # enough: each call's hand-over is then a context switch, not a wake-up
                # on another CPU.
                cpu = cpus[index % len(cpus)] if cpus and workers <= len(cpus) else None
                engines[channel] = leader
                live.add(channel)
                # Each reads its own: the first at once, the others once it has forked them.
                with contextlib.suppress(OSError):  # one that died at once is seen below, as closed
                    channel.send(Setup(assignment, limits, tempfile.gettempdir(), str(scratch), cpu))
        # Verdicts a grading process reached, waiting to go to each other one with its next submission.
        learned: dict[Connection, list[bytes]] = {channel: [] for channel in engines}
        while live:
            for channel in [ready for ready in wait(list(live)) if isinstance(ready, Connection)]:
                try:
                    kind, payload = channel.recv()
                except (EOFError, OSError):  # the grading process died
                    live.discard(channel)
                    continue
                if kind == "next":
                    try:
                        send_submission(channel, pending.pop() if pending else None, learned[channel])
                    except OSError:  # it died after asking: its submission is still in ``remaining``
                        live.discard(channel)
                    learned[channel] = []
                elif kind == "verdicts":
                    for other in live - {channel}:
                        learned[other].append(payload)
                elif kind == "report":
                    report = Report.from_dict(payload)
                    if remaining.pop(report.student, None) is not None:
                        yield report
                elif kind == "lost":  # stays in ``remaining``: the next round grades it on fresh processes
                    student, why = payload
                    errors.append(f"helper processes died under {student} ({why})")
                elif kind == "error":
                    errors.append(str(payload))
                elif kind == "done":
                    live.discard(channel)
    finally:
        for channel in engines:
            channel.close()
        for leader in dict.fromkeys(engines.values()):
            # A channel leaves ``live`` when its grading process said it is done, or died
            # (only it holds its end): one still there (Ctrl-C, an error here) may be running.
            # Its whole process group is killed: the first of the group and those it forked,
            # its children, or orphans if the first died.
            if any(engines[channel] == leader for channel in live):
                with contextlib.suppress(OSError):
                    os.killpg(leader, signal.SIGKILL)
            # Reaped by the zygote, its parent, once it has reaped those it forked: their CPU
            # time then counts in the zygote's, which this process waits for.
            zygote.reap(leader)
        zygote.close()  # which kills the workers of any grading process killed above
        remove_tree(scratch)


def default_class_dir() -> Path:
    """The bundled sample class, so the README's main command works on a fresh clone.

    It lives in the repository only: an installed grader is what students get,
    and the sample class holds a submission that passes every check.
    """
    samples = bundled_assignment_path() / "samples" / "class"
    if not samples.is_dir():
        raise UsageError("give the class folder to grade: the sample class is in the grader's repository only")
    return samples
