"""How much of a student's input the trusted side reads, and the one safe way to open it.

Every reader of student input (``submission``, ``notebook``, ``roster``)
applies these numbers where it reads; docs/reference/limits.md lists them
with what a student sees when one is exceeded. Each bound turns into an
``Unreadable`` whose message is the student's reason, never a crash.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

#: One file of a submission.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: A whole submission (its files together, as read and as assembled for the workers). The
#: trusted side holds a submission's files while it grades them, and reads a notebook through
#: two more copies of it: 24 MiB keeps one student's share of a grading process under 64 MiB.
MAX_TOTAL_BYTES = 24 * 1024 * 1024
#: Source and notebook files in one submission.
MAX_FILES = 500
#: A student's own .zip, as stored (read in place: only the entries kept are held).
MAX_ZIP_BYTES = 64 * 1024 * 1024
#: Entries of a student's .zip, and of a class export's .zip (counted before any is read).
MAX_ZIP_ENTRIES = 10_000
MAX_CLASS_ZIP_ENTRIES = 200_000
#: A path inside a submission or an export, in characters, and one name in it, in UTF-8 bytes.
MAX_PATH_CHARS = 1024
MAX_NAME_BYTES = 255
#: Folders inside a student's folder, and entries looked at there.
MAX_DIR_DEPTH = 32
MAX_DIR_ENTRIES = 20_000
#: Python source parsed on the trusted side (to find where functions are defined). A syntax
#: tree takes about 900 bytes a token and 5 us of CPU to build: 40,000 tokens (three times the
#: grader's own largest module, twenty times a long notebook's code) is 35 MiB at most. A
#: submission's files are parsed, and compared with the class's, up to 60,000 tokens together;
#: beyond, a file is graded without being parsed (a notebook cannot be: it is refused).
MAX_PARSE_BYTES = 1024 * 1024
MAX_PARSE_TOKENS = 40_000
MAX_SUBMISSION_PARSE_TOKENS = 60_000
#: A notebook's JSON: nesting, containers and values (counted before it is parsed), and cells.
MAX_JSON_DEPTH = 64
MAX_JSON_CONTAINERS = 200_000
MAX_JSON_VALUES = 500_000
MAX_CELLS = 10_000
#: What reading a notebook may cost in memory, as ``json_cost`` estimates it (the text, what
#: ``json.loads`` and nbformat build of it): with the submission's own ``MAX_TOTAL_BYTES``, one
#: student's share of the process that reads it stays under 64 MiB. A notebook of images (few,
#: long strings) of 16,000,000 bytes fits, one at the 16 MiB a file may be does not; 100,000
#: printed lines fit, 300,000 do not.
MAX_JSON_COST_BYTES = 32 * 1024 * 1024
#: LMS metadata (Gradescope's YAML): its size, its nodes with every alias expanded, and each text read from it.
MAX_METADATA_BYTES = 8 * 1024 * 1024  # about 20,000 submissions; PyYAML reads it in pure Python
MAX_METADATA_NODES = 1_000_000
MAX_METADATA_CHARS = 200
#: Nodes one YAML alias may repeat (Ruby aliases a date or a number, never a large structure),
#: and submitters of one group submission.
MAX_ALIAS_NODES = 1_000
MAX_SUBMITTERS = 100
#: How much of a hostile name a message quotes.
SHOWN_CHARS = 80


class Unreadable(Exception):
    """A student's input that is not read: the message is the reason, in a student's words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class OverBudget(Unreadable):
    """Source that would take the submission past ``MAX_SUBMISSION_PARSE_TOKENS``: the reason says so."""


def shown(name: str) -> str:
    """``name`` as a message quotes it: at most ``SHOWN_CHARS`` characters."""
    return name if len(name) <= SHOWN_CHARS else f"{name[: SHOWN_CHARS - 3]}..."


def mib(size: int) -> str:
    return f"{size // 2**20} MiB"


def read_regular(path: Path, *, limit: int = MAX_FILE_BYTES, cut: bool = False) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (its first ``limit`` if ``cut``).

    Opened as ``open_regular`` opens it.
    """
    try:
        with open_regular(path, limit=None if cut else limit) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise Unreadable(_os_reason(exc)) from None
    if len(data) > limit and cut:
        return data[:limit]
    if len(data) > limit:  # it grew after fstat
        raise Unreadable(f"skipped, over the {mib(limit)} limit per file")
    return data


@contextlib.contextmanager
def open_regular(path: Path, *, limit: int | None) -> Iterator[BinaryIO]:
    """``path`` open for reading if it is a regular file of at most ``limit`` bytes (None: any size).

    Opened without following a symbolic link and without blocking, and
    checked on the open descriptor: a FIFO, socket or device, or a file
    swapped for one after it was listed, is refused, never waited on. A
    reader that needs only part of a large file (a zip's entries) reads it
    from here rather than holding all of it.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise Unreadable(_os_reason(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable("not a regular file, skipped")
        if limit is not None and info.st_size > limit:
            raise Unreadable(f"skipped, {info.st_size / 1e6:.1f} MB is over the {mib(limit)} limit per file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            yield handle
    finally:
        os.close(fd)


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symbolic link, not followed"
    if exc.errno == errno.ENOENT:
        return "disappeared before it could be read"
    if exc.errno == errno.ENAMETOOLONG:
        return "its name is too long to read"
    return f"cannot be read ({exc.strerror or type(exc).__name__})"


def name_reason(name: str) -> str | None:
    """Why a path inside a submission or export is refused for its name alone, else None."""
    if len(name) > MAX_PATH_CHARS:
        return f"its name is over {MAX_PATH_CHARS} characters"
    if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in name.split("/")):
        return f"a name in its path is over {MAX_NAME_BYTES} bytes"
    return None


def zip_entry_count(handle: BinaryIO) -> int | None:
    """How many entries a zip's central directory holds, counted before ``ZipFile`` builds one object each.

    Counted from the directory's own records, not only the end record's
    total (which an archive can understate: ``ZipFile`` reads the directory
    whole, whatever the total says). None if the end record is not found.
    """
    try:
        end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]  # private: no public way to ask
        if not end:
            return None
        declared = int(end[zipfile._ECD_ENTRIES_TOTAL])  # type: ignore[attr-defined]
        size = int(end[zipfile._ECD_SIZE])  # type: ignore[attr-defined]
        if size > _MAX_DIRECTORY_BYTES:
            return max(declared, size // _DIRECTORY_RECORD_BYTES)
        start = int(end[zipfile._ECD_LOCATION]) - size  # type: ignore[attr-defined]
        if end[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:  # type: ignore[attr-defined]
            start -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator  # type: ignore[attr-defined]
        handle.seek(max(start, 0))
        return max(declared, handle.read(size).count(zipfile.stringCentralDir))  # type: ignore[attr-defined]
    except (OSError, ValueError, EOFError, AttributeError, IndexError, TypeError):
        return None
    finally:
        handle.seek(0)


#: The least a central directory record takes, and the most of a directory read to count them.
_DIRECTORY_RECORD_BYTES = 46
_MAX_DIRECTORY_BYTES = 32 * 1024 * 1024


def check_zip_entries(handle: BinaryIO, limit: int) -> None:
    count = zip_entry_count(handle)
    if count is not None and count > limit:
        raise Unreadable(f"the archive holds {count:,} entries, over the limit of {limit:,}")


#: A rough token: a name or number, or one other character (a string's words count too: an over-estimate).
_TOKEN = re.compile(rb"\w+|[^\w\s]")
#: The bytes of a word and of a space, as ``_TOKEN`` (a bytes pattern) has them: ASCII's ``\w`` and ``\s``.
_WORD = b"".join(bytes(range(start, end + 1)) for start, end in (b"09", b"AZ", b"az", b"__"))
_SPACE = b" \t\n\r\f\v"
#: Each byte as ``w`` if it is a word's, else a space: a word begins at the start or at each " w".
_WORDS_AND_REST = bytes(ord("w") if byte in _WORD else ord(" ") for byte in range(256))


def count_tokens(source: bytes) -> int:
    """How many times ``_TOKEN`` matches in ``source``: its words, and its bytes neither a word's nor a space's.

    Counted by translating the bytes, not by matching: ten times faster than
    ``_TOKEN.subn`` (5 us against 50 for a student's module). Each
    translation is a copy of the source, at most ``MAX_PARSE_BYTES`` where
    ``check_source`` counts.
    """
    words = source.translate(_WORDS_AND_REST)
    return words.count(b" w") + words.startswith(b"w") + len(source.translate(None, _WORD + _SPACE))


def check_source_size(size: int) -> None:
    """Refuse source of ``size`` bytes (or characters: each is at least a byte) as too large to parse."""
    if size > MAX_PARSE_BYTES:
        raise Unreadable(f"too long to read (over {mib(MAX_PARSE_BYTES)} of source)")


def check_source(source: bytes, *, left: int | None = None, tokens: int | None = None) -> int:
    """Refuse Python source too large to parse in the grading process; its tokens, counted.

    ``left``: what the submission's budget of tokens still allows (``MAX_SUBMISSION_PARSE_TOKENS``).
    ``tokens``: the source's tokens where an earlier check counted them all (it returned them): the
    same judgement, without counting again.
    """
    check_source_size(len(source))
    limit = MAX_PARSE_TOKENS if left is None else min(MAX_PARSE_TOKENS, left)
    if limit < 0:
        raise OverBudget(f"over the {MAX_SUBMISSION_PARSE_TOKENS:,} tokens a submission's files are read up to")
    # Its size is checked above: counting it whole costs at most a few milliseconds.
    count = min(count_tokens(source) if tokens is None else tokens, limit + 1)
    if count > MAX_PARSE_TOKENS:
        raise Unreadable(f"too long to read (over {MAX_PARSE_TOKENS:,} tokens)")
    if count > limit:
        raise OverBudget(f"over the {MAX_SUBMISSION_PARSE_TOKENS:,} tokens a submission's files are read up to")
    return count


def parse_reason(exc: BaseException) -> str:
    """What a student is told when ``ast.parse`` gives up on their file for one of the parser's own limits."""
    if isinstance(exc, RecursionError | MemoryError):  # CPython's parser signals too deep a nesting with either
        return "nested too deeply to read"
    return f"cannot be read as Python ({type(exc).__name__})"


#: A JSON string (its escapes included), and the characters that shape JSON.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_SHAPE = re.compile(r"[\[\]{}]")


def json_cost(chars: int, values: int, containers: int) -> int:
    """Bytes that reading JSON of ``chars`` characters, ``values`` values and ``containers`` lists and objects takes.

    An upper estimate, fitted with tracemalloc on notebooks of each shape
    (long strings, short strings, numbers, empty and small objects, lists):
    the text and its strings' contents, about 120 bytes a value, about 500
    more a list or object once nbformat has made it a node and validated it.
    """
    return 2 * chars + 128 * values + 512 * containers + 2**20


def check_json(text: str) -> None:
    """Refuse JSON nested or made of more parts than ``json.loads`` may safely build, before it tries."""
    bare = _JSON_STRING.sub('""', text)
    containers = bare.count("[") + bare.count("{")
    if containers > MAX_JSON_CONTAINERS:
        raise Unreadable(f"too large to read (over {MAX_JSON_CONTAINERS:,} lists and objects)")
    values = containers + bare.count(",")
    if values > MAX_JSON_VALUES:
        raise Unreadable(f"too large to read (over {MAX_JSON_VALUES:,} values)")
    depth = deepest = 0
    for match in _JSON_SHAPE.finditer(bare):
        depth += 1 if match.group() in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                raise Unreadable("nested too deeply to read")
    if json_cost(len(text), values, containers) > MAX_JSON_COST_BYTES:
        raise Unreadable(
            f"too large to read: its outputs and cells would take over {mib(MAX_JSON_COST_BYTES)} of memory "
            "(clear its outputs, as Jupyter's Edit > Clear All Outputs does, and hand it in again)"
        )


def metadata_text(value: str) -> tuple[str, bool]:
    """A text read from LMS metadata, cut to ``MAX_METADATA_CHARS``; True if it was cut."""
    if len(value) <= MAX_METADATA_CHARS:
        return value, False
    return value[:MAX_METADATA_CHARS], True
