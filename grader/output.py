"""Writing reports to disk: atomically, or not at all."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat as statmode
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from grader.errors import OutputError, OutputLocked
from grader.models import ClassReport, Report
from grader.render import (
    REPORT_FORMATS,
    classroom_output_line,
    render_class_pages,
    render_grades_csv,
    render_html,
    render_junit,
    render_step_summary,
)

#: Where a batch keeps what it knows (``grader.batch``), and what the class files were written from.
CACHE_DIR = ".cache"
CLASS_MANIFEST = "class/outputs.json"
_STUDENT_PAGE = re.compile(r"students-[0-9]+\.html")


def write_atomic(path: Path, data: str | bytes | Iterable[str], *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half of one.

    ``data`` may come in pieces (an iterable of text), written as they come
    so that a file of hundreds of megabytes is never held whole.

    ``durable`` also forces the data to disk before the rename, so that a power
    cut cannot leave an empty file in its place. A student's report card, JSON
    and cache entry skip it: every run rewrites the first two from the cache,
    and a cache entry lost or torn by a power cut is a miss that regrades the
    student. A full or read-only disk becomes an ``OutputError`` naming the
    file, and leaves no temporary file behind; so does an interruption
    (Ctrl-C). One left by a run killed outright is removed by the next run on
    the same folder (``claim_output``).
    """
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
            if isinstance(data, str | bytes):
                _write_all(fd, data.encode("utf-8") if isinstance(data, str) else data)
            else:
                _write_pieces(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


#: How much of a file given in pieces ``write_atomic`` gathers before each write.
_WRITE_BYTES = 1 << 20


def _write_all(fd: int, payload: bytes | bytearray) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view) :]


def _write_pieces(fd: int, pieces: Iterable[str]) -> None:
    """Write text given in pieces, gathered into writes of about ``_WRITE_BYTES``, not one system call each."""
    pending = bytearray()
    for piece in pieces:
        pending += piece.encode("utf-8")
        if len(pending) >= _WRITE_BYTES:
            _write_all(fd, pending)
            pending.clear()
    _write_all(fd, pending)


#: The temporary files ``write_atomic`` makes: ``.<name>.<pid>.tmp``.
_TEMPORARY = re.compile(r"\..+\.[0-9]+\.tmp")
#: Where they can be, below an output folder: the class files, each student's and the cache's, the cache's folders.
_TEMPORARY_PLACES = (".*.tmp", "*/.*.tmp", f"{CACHE_DIR}/*/.*.tmp")
LOCK_FILE = f"{CACHE_DIR}/lock"


@contextlib.contextmanager
def claim_output(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir`` for one run: a second run on it is refused, and what a killed run left is removed.

    The claim is an ``flock`` on ``.cache/lock``: the kernel drops it when the
    run ends however it ends, so it never goes stale as a pid file would.
    While it is held no other run writes here, so any ``write_atomic``
    temporary file found is a killed run's, and goes.
    """
    lock = out_dir / LOCK_FILE
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise OutputError(f"cannot use {out_dir}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            who = f" (pid {other})" if other.isdigit() else ""
            message = (
                f"another grader run{who} is writing to {out_dir}: wait for it to end, or give this run another --out"
            )
            raise OutputLocked(message) from None
        with contextlib.suppress(OSError):  # who holds it, for the message above: the lock itself is the flock
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        sweep_temporaries(out_dir)
        yield
    finally:
        os.close(fd)


def sweep_temporaries(out_dir: Path) -> list[Path]:
    """Remove the temporary files killed runs left below ``out_dir``; call it only while holding the claim."""
    removed: list[Path] = []
    for pattern in _TEMPORARY_PLACES:
        for path in out_dir.glob(pattern):
            if _TEMPORARY.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
    return removed


def _create(tmp: Path) -> int:
    """A new, empty temporary file; one left by a killed run of the same pid is replaced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(tmp, flags, 0o600)
    except FileExistsError:
        os.unlink(tmp)
        return os.open(tmp, flags, 0o600)


#: What tells a file apart from any other version of it: size, modification and
#: change times (ns) and inode. Any write, ``touch``, edit or replacement changes
#: the change time at least, and no user can set that one back.
Stamp = tuple[int, int, int, int]


def stamp(path: Path) -> Stamp | None:
    """The ``Stamp`` of a regular file, or None if there is none (missing, a folder, a symlink)."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not statmode.S_ISREG(info.st_mode):
        return None
    return (info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def _result_json(report: Report) -> str:
    return report.result_json + "\n"


def student_renderers(formats: tuple[str, ...] = ()) -> dict[str, Callable[[Report], str]]:
    """File name -> renderer of each file a student's folder gets: the card, the JSON, then ``formats``."""
    renderers: dict[str, Callable[[Report], str]] = {"report.html": render_html, "result.json": _result_json}
    for name in formats:
        if name not in ("html", "json"):
            renderer, filename = REPORT_FORMATS[name]
            renderers[filename] = renderer
    return renderers


def write_student_outputs(
    folder: Path, report: Report, *, formats: tuple[str, ...] = (), written: Mapping[str, Stamp] | None = None
) -> dict[str, Stamp]:
    """One student's report card and JSON result (timings left out so reruns are identical), plus ``formats``.

    ``written`` is what an earlier call returned for this same report: a file
    whose stamp is unchanged since is neither rendered nor written again; a
    file deleted, edited or replaced since is written again. Returns the
    stamps of the files as they now are.
    """
    stamps: dict[str, Stamp] = {}
    for filename, renderer in student_renderers(formats).items():
        path = folder / filename
        before = (written or {}).get(filename)
        current = stamp(path) if before is not None else None
        if current is None or current != tuple(before or ()):
            write_atomic(path, renderer(report), durable=False)
            current = stamp(path)
        if current is not None:
            stamps[filename] = current
    return stamps


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
    """The class-wide files, written after every student's own files.

    The overview's pages of students are as many as the class needs; pages
    left by an earlier, larger class are removed so no stale page stays linked.
    When ``result.fingerprint`` says the class is the one these files were
    last written from, and no file was changed or removed since, nothing is
    rendered: a re-run of an unchanged class of thousands costs no rendering.
    """
    manifest = out_dir / CACHE_DIR / CLASS_MANIFEST
    if result.fingerprint and _class_outputs_current(out_dir, manifest, result.fingerprint):
        return
    with contextlib.suppress(OSError):
        manifest.unlink()  # whatever happens below, an old manifest must not vouch for new files
    files = {"grades.csv": render_grades_csv(result), **render_class_pages(result)}
    write_atomic(out_dir / "results.json", results_json(result))
    for name, text in files.items():
        write_atomic(out_dir / name, text)
    for stale in out_dir.glob("students-*.html"):
        if _STUDENT_PAGE.fullmatch(stale.name) and stale.name not in files and stale.is_file():
            with contextlib.suppress(OSError):
                stale.unlink()
    write_atomic(out_dir / "junit.xml", render_junit(result.reports))
    if result.fingerprint:
        stamps = {name: stamp(out_dir / name) for name in ["results.json", *files, "junit.xml"]}
        write_atomic(manifest, json.dumps({"fingerprint": result.fingerprint, "files": stamps}), durable=False)


def results_json(result: ClassReport) -> Iterator[str]:
    """results.json, ``result.to_dict()`` as compact JSON, in pieces: each student's is their ``result_json``.

    Those were made as each student's files were written: the class's file
    reuses them rather than turning every report into a dict and JSON again,
    and is written piece by piece, never held whole.
    """
    yield "{"
    for index, (key, value) in enumerate(result.to_dict(students=False).items()):
        yield f"{', ' if index else ''}{json.dumps(key)}: "
        if key == "students":
            yield "["
            for number, report in enumerate(result.reports):
                if number:
                    yield ", "
                yield report.result_json
            yield "]"
        else:
            yield json.dumps(value, ensure_ascii=True)
    yield "}\n"


def _class_outputs_current(out_dir: Path, manifest: Path, fingerprint: str) -> bool:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        files = data["files"]
        return bool(
            data["fingerprint"] == fingerprint
            and files
            and all(list(stamp(out_dir / name) or ()) == value for name, value in files.items())
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False
