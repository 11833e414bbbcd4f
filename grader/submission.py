"""A path (``.py`` file, folder, ``.ipynb`` notebook, ``.zip``) becomes a ``Submission``.

Nothing here runs student code: sources are read as bytes and, to find where
functions are defined, parsed with ``ast``.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import zipfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import BinaryIO

from grader.assignment import Assignment
from grader.bounds import (
    MAX_DIR_DEPTH,
    MAX_DIR_ENTRIES,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_SUBMISSION_PARSE_TOKENS,
    MAX_TOTAL_BYTES,
    MAX_ZIP_BYTES,
    MAX_ZIP_ENTRIES,
    OverBudget,
    Unreadable,
    check_source,
    check_zip_entries,
    name_reason,
    open_regular,
    parse_reason,
    read_regular,
    shown,
)
from grader.errors import SubmissionError
from grader.models import Location
from grader.notebook import NotebookError, NotebookSource, notebook_to_source
from grader.sandbox.cells import CellStop

#: Notes about one submission's files listed in its report; the rest are counted in one more.
MAX_PROBLEMS = 40

#: Folders never read as part of a submission (caches, version control, environments).
SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", "__MACOSX", ".git", ".venv", "venv", "node_modules"}


@dataclass(frozen=True)
class Submission:
    """One student's work, ready to send to a sandboxed worker."""

    name: str
    #: Files for the worker: relative path -> bytes. Each provided exercise is
    #: importable as a top-level module of its own name.
    files: Mapping[str, bytes]
    #: Exercise modules this submission provides.
    exercises: tuple[str, ...]
    #: (exercise, function) -> where the student defined it.
    locations: Mapping[tuple[str, str], Location] = field(default_factory=dict)
    #: Problems and notes about the submission as a whole, in a student's words.
    problems: tuple[str, ...] = ()
    #: sha256 of the submission's raw content, for caching.
    digest: str = ""
    #: (exercise, function) -> every place it is defined, in the order they run; the last is ``locations``'.
    definitions: Mapping[tuple[str, str], tuple[Location, ...]] = field(default_factory=dict)
    #: Exercise -> the tokens of its module (``files[f"{exercise}.py"]``), where reading the submission
    #: counted them all (``bounds.check_source``): the similarity check judges it without counting again.
    tokens: Mapping[str, int] = field(default_factory=dict)

    def location_after(self, key: tuple[str, str], stops: Collection[CellStop]) -> Location | None:
        """Where the definition in force is once ``stops`` cut their cells short: the last one that ran.

        None when every definition was in a stopped cell, after its error.
        """
        sites = self.definitions.get(key)
        if not sites:
            return self.locations.get(key)
        return next((site for site in reversed(sites) if not _cut_off(site, stops)), None)

    def cut_off(self, stop: CellStop) -> list[tuple[str, Location]]:
        """The definitions ``stop`` kept from running: (function, where), once per function and place."""
        found = {
            (key[1], site): None for key, sites in self.definitions.items() for site in sites if _cut_off(site, (stop,))
        }
        return sorted(found, key=lambda item: (item[1].line, item[0]))


@dataclass
class _Source:
    relpath: str
    module_source: bytes  # Python source for the worker
    notebook: NotebookSource | None = None


def load_submission(path: Path, assignment: Assignment, *, name: str | None = None) -> Submission:
    """Read a submission; unreadable parts become ``problems``, never exceptions.

    Raises ``SubmissionError`` only when ``path`` itself does not exist or is
    not a kind of submission at all.
    """
    raw, problems = read_files(path)
    return parse_submission(raw, assignment, name=name or _student_name(path), problems=problems)


def read_files(path: Path) -> tuple[dict[str, bytes], list[str]]:
    """The raw files of a submission (relative path -> bytes) and the problems met reading them.

    Cheap next to ``build_submission``, which parses every file: a batch reads
    every student this way to find who changed, and parses only those.
    """
    if not path.exists():
        raise SubmissionError(f"{path} does not exist")
    problems: list[str] = []
    return _read_raw(path, problems), problems


def content_digest(raw: Mapping[str, bytes]) -> str:
    """The sha256 of a submission's raw files, names included, for caching."""
    digest = hashlib.sha256()
    for rel in sorted(raw):  # in pieces: a file is never copied to be hashed
        digest.update(rel.encode() + b"\0")
        digest.update(raw[rel])
        digest.update(b"\0")
    return digest.hexdigest()


def read_parts(
    parts: Sequence[tuple[str, Path]], *, problems: Sequence[str] = ()
) -> tuple[dict[str, bytes], list[str]]:
    """The raw files of a submission gathered from several places, each placed at its own relative path.

    An LMS's flat export hands over a student's files one by one under
    prefixed names: each ``(where, path)`` puts a file at ``where`` (its
    original name), or reads a folder or a .zip whole, under ``where`` (''
    for the root). The per-file, per-submission and file-count limits hold
    across all the parts together.
    """
    notes = list(problems)
    raw: dict[str, bytes] = {}
    total = 0
    for where, path in parts:
        if path.is_dir() and not path.is_symlink():
            listing = _walk(path, notes)
            found = _read_dir(path, notes, listing)
            # A student's own zip in the folder an LMS made for them is their work too.
            for archive_rel, archive in listing.zips[:MAX_FILES]:
                base = PurePosixPath(archive_rel).parent.as_posix()
                for rel, content in _read_zip(archive, notes).items():
                    found.setdefault(rel if base == "." else f"{base}/{rel}", content)
            items = [(f"{where}/{rel}" if where else rel, data) for rel, data in found.items()]
        elif path.suffix.lower() == ".zip":
            found = _read_zip(path, notes)
            items = [(f"{where}/{rel}" if where else rel, data) for rel, data in found.items()]
        elif PurePosixPath(where).suffix in (".py", ".ipynb"):
            single = _read_file(path, where, notes)
            items = [] if single is None else [(where, single)]
        else:
            notes.append(f"{shown(where)}: not a Python file or notebook, so not graded")
            continue
        for rel, data in items:
            if rel in raw:
                notes.append(f"{shown(rel)}: submitted twice; only the first copy is graded")
                continue
            if len(raw) >= MAX_FILES or total + len(data) > MAX_TOTAL_BYTES:
                limit = MAX_TOTAL_BYTES // 2**20
                notes.append(f"{shown(rel)}: skipped, the submission is over {limit} MiB or {MAX_FILES} files")
                continue
            total += len(data)
            raw[rel] = data
    return raw, notes


def parse_submission(raw: Mapping[str, bytes], assignment: Assignment, *, name: str, problems: list[str]) -> Submission:
    """``build_submission``, total: a failure on one student's files makes an empty submission with the reason.

    A batch relies on this, not on each reader having foreseen every
    exception: one student's input never stops the class.
    """
    try:
        return build_submission(raw, assignment, name=name, problems=problems)
    except Exception as exc:  # noqa: BLE001 - whatever one student's files raise is their reason, not the class's
        return Submission(name=name, files={}, exercises=(), problems=(*problems, unreadable_reason(exc)))


def unreadable_reason(exc: BaseException) -> str:
    """A reader's unforeseen failure, in a student's words (the exception's type only: never its text)."""
    if isinstance(exc, RecursionError | MemoryError):
        return "the submission is nested too deeply or too large to read: not graded"
    return f"the submission could not be read ({type(exc).__name__}): not graded"


def build_submission(
    raw: Mapping[str, bytes],
    assignment: Assignment,
    *,
    name: str,
    problems: list[str] | None = None,
) -> Submission:
    """Turn raw files (relative path -> bytes) into a submission."""
    problems = list(problems or [])
    files: dict[str, bytes] = {}
    named: dict[str, _Source] = {}
    pooled: list[_Source] = []
    left = MAX_SUBMISSION_PARSE_TOKENS
    for rel in sorted(raw, key=lambda r: (r.count("/"), r)):
        data = raw[rel]
        pure = PurePosixPath(rel)
        if pure.suffix == ".py":
            files[rel] = data
            source = _Source(rel, data)
            if pure.stem in assignment.names:
                named.setdefault(pure.stem, source)
            elif pure.name != "conftest.py":
                pooled.append(source)
        elif pure.suffix == ".ipynb":
            try:
                notebook = notebook_to_source(data, name=rel, tokens_left=left)
            except NotebookError as exc:
                problems.append(f"{shown(rel)}: {exc}")
                continue
            left -= notebook.tokens
            problems.extend(f"{shown(rel)}: {note}" for note in notebook.notes)
            pooled.append(_Source(rel, notebook.source.encode(), notebook))
    # Each source parsed once, in order, while the submission's budget of tokens lasts.
    parsed: dict[str, Mapping[str, tuple[int, ...]] | str] = {}
    counted: dict[str, int | None] = {}
    for source in [*named.values(), *pooled]:
        charged = source.notebook is None  # a notebook's cells were charged as it was converted
        parsed[source.relpath], counted[source.relpath] = _parsed(source.module_source, left if charged else None)
        if charged:
            left -= counted[source.relpath] or 0

    providers: dict[str, list[_Source]] = {name: [source] for name, source in named.items()}
    for exercise in assignment.exercises:
        if exercise.name in providers:
            continue
        # Every pooled source defining one of its functions, in order: a student may
        # split an exercise across files or cells; the last definition wins, as if
        # they ran one after the other.
        found = [source for source in pooled if _defines_any(source, parsed[source.relpath], exercise.functions)]
        if found:
            providers[exercise.name] = found
    assembled = sum(map(len, files.values()))
    for exercise_name, sources in list(providers.items()):
        size = sum(len(source.module_source) for source in sources) + 2 * (len(sources) - 1)
        if len(sources) > 1 and assembled + size > MAX_TOTAL_BYTES:
            # Joined, these files would be held (and sent to each worker) twice over: the
            # submission's bound applies to what is assembled from it, not only to what was read.
            del providers[exercise_name]
            problems.append(
                f"{exercise_name}: its functions are defined across {len(sources)} files too large to put "
                f"together (over the {MAX_TOTAL_BYTES // 2**20} MiB a submission may be): not graded"
            )
            continue
        assembled += size if len(sources) > 1 else 0
        files[f"{exercise_name}.py"] = b"\n\n".join(source.module_source for source in sources)
    for source in [*named.values(), *pooled]:
        reason = parsed[source.relpath]
        if isinstance(reason, str) and reason:
            problems.append(f"{shown(source.relpath)}: {reason}")

    definitions: dict[tuple[str, str], tuple[Location, ...]] = {}
    for exercise_name, sources in providers.items():
        # The contract's functions only: a module of 30,000 assignments would otherwise be
        # 30,000 locations to hold, send to the grading process and search (+130 MiB there).
        functions = set(assignment.exercise(exercise_name).functions)
        for source in sources:
            found_here = parsed[source.relpath]
            for function, lines in ({} if isinstance(found_here, str) else found_here).items():
                if function not in functions:
                    continue
                key = (exercise_name, function)
                definitions[key] = (*definitions.get(key, ()), *(_location(source, line) for line in lines))
    locations = {key: sites[-1] for key, sites in definitions.items()}
    # An exercise's module joins its sources with blank lines, which split no token: its tokens are theirs.
    tokens = {
        exercise_name: sum(counted[source.relpath] or 0 for source in sources)
        for exercise_name, sources in providers.items()
        if all(counted[source.relpath] is not None for source in sources)
    }

    ordered = tuple(n for n in assignment.names if n in providers)
    if len(problems) > MAX_PROBLEMS:  # 500 files, each with its note, would flood the report
        problems[MAX_PROBLEMS - 1 :] = [f"{len(problems) - MAX_PROBLEMS + 1:,} more notes like these"]
    return Submission(
        name=name,
        files=files,
        exercises=ordered,
        locations=locations,
        problems=tuple(problems),
        digest=content_digest(raw),
        definitions=definitions,
        tokens=tokens,
    )


def _cut_off(site: Location, stops: Collection[CellStop]) -> bool:
    """Whether a definition at ``site`` never ran: its cell stopped at an error on or before its line."""
    return site.cell is not None and any(
        stop.file == site.file and stop.cell == site.cell and stop.line <= site.line for stop in stops
    )


def _student_name(path: Path) -> str:
    name = path.name
    for suffix in (".zip", ".ipynb", ".py"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _read_raw(path: Path, problems: list[str]) -> dict[str, bytes]:
    if path.is_dir() and not path.is_symlink():
        # A .zip in the folder is the student's work too, as in an LMS's folder for them:
        # left unread, a student who zipped their files would lose them without a word.
        raw, notes = read_parts([("", path)])
        problems.extend(notes)
        return raw
    if path.suffix == ".zip":
        return _read_zip(path, problems)
    if path.suffix in (".py", ".ipynb"):
        data = _read_file(path, path.name, problems)
        return {path.name: data} if data is not None else {}
    raise SubmissionError(f"{path}: not a submission (expected a .py file, a .ipynb notebook, a folder or a .zip)")


def _read_file(path: Path, rel: str, problems: list[str]) -> bytes | None:
    try:
        return read_regular(path, limit=MAX_FILE_BYTES)
    except Unreadable as exc:
        problems.append(f"{shown(rel)}: {exc.reason}")
        return None


@dataclass
class _Listing:
    """What a walk of a student's folder found: its source files and its own .zip files, by relative path."""

    sources: list[tuple[str, Path]] = field(default_factory=list)
    zips: list[tuple[str, Path]] = field(default_factory=list)


def _walk(root: Path, problems: list[str]) -> _Listing:
    """The folder's regular .py, .ipynb and .zip files, in path order, hidden and skipped folders left out.

    Iterative and bounded in depth and entries, so a folder nested a
    thousand deep or holding a million entries costs a note, not a crash;
    links are not followed and special files (FIFOs, sockets, devices) are
    never opened: both are named when they look like a student's file.
    """
    listing = _Listing()
    seen = 0
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    found: list[tuple[tuple[str, ...], Path, str]] = []
    while stack:
        folder, parts = stack.pop()
        try:
            with os.scandir(folder) as scan:
                children = sorted(scan, key=lambda entry: entry.name)
        except OSError as exc:
            where = "/".join(parts) or "the submission"
            problems.append(f"{shown(where)}: cannot be read ({exc.strerror or type(exc).__name__})")
            continue
        seen += len(children)
        if seen > MAX_DIR_ENTRIES:
            problems.append(f"more than {MAX_DIR_ENTRIES:,} entries in its folders: the rest were skipped")
            break
        for entry in reversed(children):
            name = entry.name
            if name in SKIP_DIRS or name.startswith("."):
                continue
            rel_parts = (*parts, name)
            rel = "/".join(rel_parts)
            try:
                if entry.is_dir(follow_symlinks=False):
                    if len(rel_parts) >= MAX_DIR_DEPTH:
                        problems.append(f"{shown(rel)}: nested more than {MAX_DIR_DEPTH} folders deep, skipped")
                    else:
                        stack.append((Path(entry.path), rel_parts))
                    continue
                kind = "file" if entry.is_file(follow_symlinks=False) else "link" if entry.is_symlink() else "special"
            except OSError:
                kind = "special"
            suffix = PurePosixPath(name).suffix.lower()
            if suffix in (".py", ".ipynb", ".zip") or kind == "special":
                found.append((rel_parts, Path(entry.path), kind))
    for rel_parts, path, kind in sorted(found):
        rel = "/".join(rel_parts)
        if kind == "link":
            problems.append(f"{shown(rel)}: a symbolic link, not followed")
        elif kind == "special":
            problems.append(f"{shown(rel)}: not a regular file, skipped")
        elif path.suffix.lower() == ".zip":
            listing.zips.append((rel, path))
        elif path.suffix in (".py", ".ipynb"):
            listing.sources.append((rel, path))
    return listing


def _read_dir(root: Path, problems: list[str], listing: _Listing | None = None) -> dict[str, bytes]:
    raw: dict[str, bytes] = {}
    total = 0
    for rel, path in (listing or _walk(root, problems)).sources:
        if len(raw) >= MAX_FILES:
            problems.append(f"more than {MAX_FILES} source files: the rest were skipped")
            break
        # Its size as listed first: a file that would go over the total is not even read.
        fits = total + _listed_size(path) <= MAX_TOTAL_BYTES
        data = _read_file(path, rel, problems) if fits else None
        if fits and data is None:
            continue  # unreadable: _read_file said why
        if data is None or total + len(data) > MAX_TOTAL_BYTES:
            limit = MAX_TOTAL_BYTES // 2**20
            problems.append(f"the submission is over {limit} MiB: {shown(rel)} and later files were skipped")
            break
        total += len(data)
        raw[rel] = data
    return raw


def _listed_size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0  # read_regular says why


def _read_zip(path: Path, problems: list[str]) -> dict[str, bytes]:
    """The source files of a student's own .zip, read from the archive in place: only what is kept is held."""
    try:
        with open_regular(path, limit=MAX_ZIP_BYTES) as handle:
            return _read_archive(handle, path, problems)
    except Unreadable as exc:
        problems.append(f"{shown(path.name)}: {exc.reason}")
    except OSError as exc:  # the archive's own reads
        problems.append(f"{shown(path.name)}: not a readable zip archive ({exc})")
    return {}


def _read_archive(handle: BinaryIO, path: Path, problems: list[str]) -> dict[str, bytes]:
    """``_read_zip``'s work on the open archive; an ``Unreadable`` (too many entries) is its caller's to say."""
    try:
        check_zip_entries(handle, MAX_ZIP_ENTRIES)
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, UnicodeError) as exc:
        problems.append(f"{shown(path.name)}: not a readable zip archive ({exc})")
        return {}
    raw: dict[str, bytes] = {}
    skipped: list[str] = []
    refused: list[str] = []
    total = 0
    with archive:
        for info in archive.infolist():
            pure = PurePosixPath(info.filename)
            if info.is_dir() or pure.is_absolute() or ".." in pure.parts:
                continue
            if any(part in SKIP_DIRS or part.startswith(".") for part in pure.parts):
                continue
            if pure.suffix not in (".py", ".ipynb"):
                continue
            reason = name_reason(info.filename)
            if reason is not None:
                refused.append(f"{shown(info.filename)}: skipped, {reason}")
                continue
            if info.file_size > MAX_FILE_BYTES or total + info.file_size > MAX_TOTAL_BYTES or len(raw) >= MAX_FILES:
                skipped.append(info.filename)
                continue
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, ValueError, EOFError) as exc:
                problems.append(f"{shown(info.filename)}: cannot be extracted ({exc})")
                continue
            total += len(data)
            raw[str(pure)] = data
    problems.extend(refused[:3])
    if len(refused) > 3:
        problems.append(f"{len(refused) - 3} more entries skipped: their names are too long")
    if skipped:  # one line, however many entries: a zip of 10**5 files must not flood the report
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        problems.append(f"{', '.join(skipped[:3])}{more}: skipped, the archive is over the size limits")
    # An archive holding one folder is that folder.
    tops = {PurePosixPath(rel).parts[0] for rel in raw}
    if len(tops) == 1 and all(len(PurePosixPath(rel).parts) > 1 for rel in raw):
        (top,) = tops
        raw = {str(PurePosixPath(rel).relative_to(top)): data for rel, data in raw.items()}
    return raw


def _parsed(source: bytes, left: int | None) -> tuple[Mapping[str, tuple[int, ...]] | str, int | None]:
    """The definitions of ``source``, or why it is not parsed ('' for a syntax error), and its tokens.

    A source over the bounds, or over what the submission's budget has
    ``left``, is not parsed: the reason says which, and the worker grades it
    all the same; its tokens are then None (not counted in full).
    ``left=None``: already paid for (a notebook, at conversion).
    """
    try:
        count = check_source(source, left=left)
    except OverBudget as exc:
        return f"not read to find where its functions are ({exc.reason}); graded all the same", None
    except Unreadable as exc:
        return exc.reason, None
    parsed = _parse_cached(source) if len(source) <= MAX_CACHED_BYTES else _parse(source)
    return parsed, count


#: Sources up to this size are cached when parsed (a class's untouched stubs are the same
#: bytes in every submission); a larger one would be kept alive by the cache.
MAX_CACHED_BYTES = 64 * 1024


@functools.lru_cache(maxsize=256)
def _parse_cached(source: bytes) -> Mapping[str, tuple[int, ...]] | str:
    """Cached: a class's untouched stubs are the same bytes in every submission."""
    return _parse(source)


def _parse(source: bytes) -> Mapping[str, tuple[int, ...]] | str:
    """The definitions of ``source`` (within the bounds: ``_parsed`` checks), or why it is not parsed."""
    try:
        tree = ast.parse(source)
        found: dict[str, list[int]] = {}
        _collect_definitions(tree.body, found)
    except (SyntaxError, ValueError):
        return ""
    except (RecursionError, MemoryError) as exc:
        return parse_reason(exc)
    return MappingProxyType({name: tuple(lines) for name, lines in found.items()})


def _collect_definitions(body: list[ast.stmt], found: dict[str, list[int]]) -> None:
    """Module-level definitions in source order, also inside top-level ``if``/``try`` blocks.

    A notebook's cells reach the worker as ``try:`` blocks, and its
    definition-only ``if``/``try`` blocks are kept as written.
    """
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.setdefault(node.name, []).append(node.lineno)
        elif isinstance(node, ast.Assign):  # apply_sigmoid = torch.sigmoid
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).append(node.lineno)
        elif isinstance(node, ast.If):
            _collect_definitions(node.body + node.orelse, found)
        elif isinstance(node, (ast.Try, ast.TryStar)):
            _collect_definitions(node.body + [n for h in node.handlers for n in h.body] + node.orelse, found)


def _defines_any(source: _Source, parsed: Mapping[str, tuple[int, ...]] | str, functions: tuple[str, ...]) -> bool:
    if isinstance(parsed, str):
        # Not parsed: claim it by name so the syntax error reaches the report
        # (searched as bytes: a 16 MB file is not decoded once per exercise).
        return any(f"def {function}".encode() in source.module_source for function in functions)
    return any(function in parsed for function in functions)


def _location(source: _Source, line: int) -> Location:
    if source.notebook is not None:
        cell, cell_line = source.notebook.locate(line)
        return Location(file=source.relpath, line=cell_line, cell=cell)
    return Location(file=source.relpath, line=line)
