"""Grade a whole class: parallel engines, a per-student cache, nothing lost on interruption.

Each engine process runs its own ``Grader`` (one zygote, checks collected
once) and grades the submissions it is sent. The parent only reads
submissions, which runs no student code, and writes outputs: each student's
files as soon as their report arrives, atomically, then a cache entry, so a
batch killed at any moment resumes with only the missing students.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import queue
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from grader import __version__
from grader.assignment import Assignment, bundled_assignment_path
from grader.errors import GraderError, OutputError, SandboxError, SubmissionError, UsageError
from grader.grading import Grader
from grader.models import ClassReport, Report
from grader.output import write_atomic
from grader.plugin import Job
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.similarity import find_similar
from grader.submission import MAX_TOTAL_BYTES, Submission, build_submission, load_submission

CACHE_DIR = ".cache"
_SKIP_NAMES = {"__MACOSX", "__pycache__", ".ipynb_checkpoints"}
_CLASS_ZIP_LIMIT = 1024 * 1024 * 1024


@dataclass(frozen=True)
class Entry:
    """One student's entry in a class folder."""

    student: str
    path: Path


@dataclass(frozen=True)
class Progress:
    """What a progress display needs after each student."""

    done: int
    total: int
    student: str
    percent: float
    cached: bool


def discover(class_dir: Path, *, workdir: Path) -> list[Entry]:
    """The students of ``class_dir``: a folder of entries, or a .zip of one (extracted into ``workdir``)."""
    if not class_dir.exists():
        raise UsageError(f"{class_dir} does not exist")
    if class_dir.is_file() and class_dir.suffix == ".zip":
        class_dir = _extract_class(class_dir, workdir)
    if not class_dir.is_dir():
        raise UsageError(f"{class_dir}: a class is a folder (or a .zip) with one entry per student")
    entries: list[Entry] = []
    taken: set[str] = set()
    for path in sorted(class_dir.iterdir()):
        if path.name.startswith(".") or path.name in _SKIP_NAMES or path.is_symlink():
            continue
        if path.is_file() and path.suffix not in (".py", ".ipynb", ".zip"):
            continue
        student = path.name
        for suffix in (".zip", ".ipynb", ".py"):
            if path.is_file() and student.endswith(suffix) and len(student) > len(suffix):
                student = student[: -len(suffix)]
                break
        if student in taken:  # alice.py beside alice.ipynb: keep both, distinguishable
            student = path.name
        taken.add(student)
        entries.append(Entry(student, path))
    if not entries:
        raise UsageError(f"{class_dir} holds no submissions (folders, .py, .ipynb or .zip files)")
    return entries


def _extract_class(archive_path: Path, workdir: Path) -> Path:
    """Extract an LMS class export safely: no absolute paths, no '..', size-capped."""
    target = workdir / "class"
    target.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(archive_path) as archive:
            total = 0
            for info in archive.infolist():
                pure = PurePosixPath(info.filename)
                if info.is_dir() or pure.is_absolute() or ".." in pure.parts or not pure.parts:
                    continue
                if info.file_size > MAX_TOTAL_BYTES or total + info.file_size > _CLASS_ZIP_LIMIT:
                    continue
                total += info.file_size
                destination = target.joinpath(*pure.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink, length=1024 * 1024)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise UsageError(f"{archive_path}: not a readable class archive ({exc})") from None
    # An export holding one folder is that folder.
    children = [p for p in target.iterdir() if not p.name.startswith(".") and p.name not in _SKIP_NAMES]
    if len(children) == 1 and children[0].is_dir():
        return children[0]
    return target


def read_entry(entry: Entry, assignment: Assignment) -> Submission:
    """A student's submission; an unreadable entry becomes an empty one with the reason."""
    try:
        return load_submission(entry.path, assignment, name=entry.student)
    except SubmissionError as exc:
        return build_submission({}, assignment, name=entry.student, problems=[exc.message])


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
        write_atomic(self.root / f"{key}.json", json.dumps({"key": key, "report": report.to_dict()}))


def grade_class(
    class_dir: Path,
    out_dir: Path,
    assignment: Assignment,
    *,
    jobs: int | None = None,
    force: bool = False,
    limits: Limits | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    write_student: Callable[[Path, Report], None] | None = None,
) -> ClassReport:
    """Grade every entry of ``class_dir`` on the whole assignment; write per-student outputs as they come.

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
    with tempfile.TemporaryDirectory(prefix="grader-class-") as workdir:
        entries = discover(class_dir, workdir=Path(workdir))
        submissions = {entry.student: read_entry(entry, assignment) for entry in entries}
    cache = Cache(out_dir / CACHE_DIR)
    fingerprint = assignment.fingerprint()
    keys = {name: cache_key(sub, assignment, limits, fingerprint) for name, sub in submissions.items()}
    reports: dict[str, Report] = {}
    done = 0

    def finished(report: Report, *, cached: bool) -> None:
        nonlocal done
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
    ordered = tuple(reports[entry.student] for entry in entries if entry.student in reports)
    return ClassReport(
        assignment=assignment.title,
        reports=ordered,
        exercise_titles=assignment.titles(),
        similar=find_similar(submissions, assignment),
        errors=tuple(errors),
    )


def _grade_parallel(
    submissions: list[Submission], assignment: Assignment, limits: Limits, workers: int
) -> Iterator[Report]:
    """Fan submissions out to ``workers`` engine processes; yield reports as they arrive.

    A submission whose engine died is retried once in a fresh engine; if it
    kills that one too, the batch goes on and a ``SandboxError`` names it at
    the end.
    """
    context = multiprocessing.get_context("fork")
    remaining = {s.name: s for s in submissions}
    attempts = 0
    last_errors: list[str] = []
    while remaining and attempts < 2:
        attempts += 1
        tasks: Any = context.Queue()
        results: Any = context.Queue()
        # Engines that die leave submissions in the pipe; the queue's feeder
        # thread must not then block the grader's exit waiting to send them.
        tasks.cancel_join_thread()
        for submission in remaining.values():
            tasks.put(submission)
        count = min(workers, len(remaining))
        for _ in range(count):
            tasks.put(None)
        # One zygote for all engines: its torch import is paid once, not per engine.
        zygote_process, zygotes = Zygote.start_shared(count)
        engines = [
            context.Process(target=_engine, args=(assignment, limits, zygote, tasks, results), daemon=True)
            for zygote in zygotes
        ]
        for engine in engines:
            engine.start()
        running = count
        errors: list[str] = []
        try:
            while running:
                try:
                    kind, payload = results.get(timeout=1.0)
                except queue.Empty:
                    if not any(e.is_alive() for e in engines) and results.empty():
                        break
                    continue
                if kind == "report":
                    report = Report.from_dict(payload)
                    if remaining.pop(report.student, None) is not None:
                        yield report
                elif kind == "error":
                    errors.append(str(payload))
                elif kind == "done":
                    running -= 1
        finally:
            for engine in engines:
                engine.join(timeout=5)
                if engine.is_alive():
                    engine.kill()
                    engine.join()
            for zygote in zygotes:
                zygote.close()
            zygote_process.stop()
        last_errors = errors
    if remaining:
        detail = "; ".join(dict.fromkeys(last_errors)) or "its grading process died"
        raise SandboxError(f"could not grade {', '.join(sorted(remaining))}: {detail}")


def _engine(assignment: Assignment, limits: Limits, zygote: Zygote, tasks: Any, results: Any) -> None:
    """One engine process (forked: its arguments are inherited, not pickled), serving ``tasks`` until a ``None``."""
    try:

        def jobs() -> Iterator[Job]:
            while (submission := tasks.get()) is not None:
                yield Job(submission, assignment.names)

        with Grader(assignment, limits=limits, zygote=zygote) as grader:
            grader.run(jobs(), lambda report: results.put(("report", report.to_dict())))
    except GraderError as exc:
        results.put(("error", exc.message))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which retries
        results.put(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        results.put(("done", None))


def default_class_dir() -> Path:
    """The bundled sample class, so the README's main command works on a fresh clone."""
    return bundled_assignment_path() / "samples" / "class"
