"""Writing reports to disk: atomically, or not at all."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from grader.errors import OutputError
from grader.models import ClassReport, Report
from grader.render import (
    REPORT_FORMATS,
    classroom_output_line,
    render_grades_csv,
    render_html,
    render_junit,
    render_overview,
    render_step_summary,
)


def write_atomic(path: Path, data: str | bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half of one.

    ``durable`` also forces the data to disk before the rename, so that a power
    cut cannot leave an empty file in its place. A student's report card, JSON
    and cache entry skip it: every run rewrites the first two from the cache,
    and a cache entry lost or torn by a power cut is a miss that regrades the
    student. A full or read-only disk becomes an ``OutputError`` naming the
    file, and leaves no temporary file behind.
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path = Path(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = _create(tmp)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        try:
            os.fchmod(fd, 0o644)  # whatever the umask: reports are read by a web server or a TA
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _create(tmp: Path) -> int:
    """A new, empty temporary file; one left by a killed run of the same pid is replaced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(tmp, flags, 0o600)
    except FileExistsError:
        os.unlink(tmp)
        return os.open(tmp, flags, 0o600)


def write_student_outputs(folder: Path, report: Report, *, formats: tuple[str, ...] = ()) -> None:
    """One student's report card and JSON result (timings left out so reruns are identical), plus ``formats``."""
    write_atomic(folder / "report.html", render_html(report), durable=False)
    # Compact JSON: with indent, json falls back to its pure-Python encoder, which was
    # the batch's largest cost after grading itself (jq or any viewer pretty-prints).
    text = json.dumps(report.to_dict(timings=False), ensure_ascii=True) + "\n"
    write_atomic(folder / "result.json", text, durable=False)
    for name in formats:
        if name not in ("html", "json"):
            renderer, filename = REPORT_FORMATS[name]
            write_atomic(folder / filename, renderer(report), durable=False)


def append_to(path: Path, text: str) -> None:
    """Append to a file another program owns (``$GITHUB_STEP_SUMMARY``, ``$GITHUB_OUTPUT``)."""
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        raise OutputError(f"cannot append to {path}: {exc.strerror or exc}") from None


def write_ci_files(report: Report, *, step_summary: Path | None, github_output: Path | None) -> None:
    """The GitHub Actions side channels: the job summary and the Classroom ``result`` output."""
    if step_summary is not None:
        append_to(step_summary, render_step_summary(report))
    if github_output is not None:
        append_to(github_output, classroom_output_line(report))


def write_class_outputs(out_dir: Path, result: ClassReport) -> None:
    """The class-wide files, written after every student's own files."""
    write_atomic(out_dir / "results.json", json.dumps(result.to_dict(), ensure_ascii=True) + "\n")
    write_atomic(out_dir / "grades.csv", render_grades_csv(result))
    write_atomic(out_dir / "index.html", render_overview(result))
    write_atomic(out_dir / "junit.xml", render_junit(result.reports))
