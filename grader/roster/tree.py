"""A class export on disk: a folder, or a .zip extracted safely; its entries, without the OS's junk."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from grader.bounds import MAX_CLASS_ZIP_ENTRIES, MAX_ZIP_BYTES, Unreadable, check_zip_entries, name_reason, shown
from grader.errors import UsageError
from grader.models import UnattributedFile

#: Not the students' files: what macOS, Windows, Python and Jupyter leave in a folder.
JUNK_NAMES = frozenset({"__MACOSX", "__pycache__", ".ipynb_checkpoints", "Thumbs.db", "desktop.ini"})
CLASS_ZIP_LIMIT = 1024 * 1024 * 1024
#: The zip flag saying names are UTF-8; without it, zipfile decodes them as cp437.
_UTF8_FLAG = 0x800


def is_junk(name: str) -> bool:
    """``.DS_Store``, ``._file`` (AppleDouble), ``__MACOSX``, ``Thumbs.db``, hidden files: never a student's work."""
    return name.startswith(".") or name in JUNK_NAMES


def entries(folder: Path) -> list[Path]:
    """The folder's entries in name order, junk left out."""
    return sorted((p for p in folder.iterdir() if not is_junk(p.name)), key=lambda p: p.name)


def is_special(path: Path) -> bool:
    """A FIFO, socket or device (never opened: a FIFO would block the grader), or a path gone since listed."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return True
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def match_entry(path: Path, *, folder: re.Pattern[str], file: re.Pattern[str]) -> re.Match[str] | None:
    """``path``'s name matched against the pattern for its kind; symbolic links match nothing."""
    if path.is_symlink():
        return None
    if path.is_dir():
        return folder.match(path.name)
    return file.match(path.name) if path.is_file() else None


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def extract_class(archive_path: Path, target: Path) -> list[UnattributedFile]:
    """Extract a class export into ``target``: no absolute paths, no '..', size-capped, entry by entry.

    An entry over the limits, or one that cannot be extracted, is skipped and
    returned (to be listed on the overview), never silently lost; a damaged
    entry never stops the rest of the class.
    """
    skipped: list[UnattributedFile] = []
    target.mkdir(parents=True, exist_ok=True)
    try:
        handle = open(archive_path, "rb")  # noqa: SIM115 - closed by the archive below
    except OSError as exc:
        raise UsageError(f"{archive_path}: not a readable class archive ({exc.strerror or exc})") from None
    try:
        check_zip_entries(handle, MAX_CLASS_ZIP_ENTRIES)
        archive = zipfile.ZipFile(handle)
    except Unreadable as exc:
        handle.close()
        raise UsageError(f"{archive_path}: not read as a class archive: {exc.reason}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        handle.close()
        raise UsageError(f"{archive_path}: not a readable class archive ({exc})") from None
    total = 0
    with handle, archive:
        for info in archive.infolist():
            name = decoded_name(info)
            pure = PurePosixPath(name)
            if info.is_dir() or pure.is_absolute() or ".." in pure.parts or not pure.parts:
                continue
            if any(is_junk(part) for part in pure.parts):
                continue
            too_long = name_reason(name)
            if too_long is not None:
                skipped.append(UnattributedFile(shown(name), f"skipped: {too_long}"))
                continue
            # An entry is a student's file or a student's own .zip: the larger of those bounds.
            if info.file_size > MAX_ZIP_BYTES or total + info.file_size > CLASS_ZIP_LIMIT:
                skipped.append(UnattributedFile(shown(name), "skipped: over the size limit for a class archive"))
                continue
            reason = _extract(archive, info, target.joinpath(*pure.parts))
            if reason:
                skipped.append(UnattributedFile(shown(name), f"skipped: {reason}"))
                continue
            total += info.file_size
    return skipped


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, destination: Path) -> str:
    """Write one entry at ``destination``; why it could not be ('' when it was), a partial copy removed."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, open(destination, "wb") as sink:
            shutil.copyfileobj(source, sink, length=1024 * 1024)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, ValueError) as exc:
        # The clean-up can fail for the same reason (``a/x.py`` under a file ``a``): it must not raise.
        with contextlib.suppress(OSError):
            destination.unlink(missing_ok=True)
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        return f"cannot be extracted ({detail})"
    return ""


def decoded_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as the LMS meant it: most write UTF-8 names without setting the UTF-8 flag."""
    if info.flag_bits & _UTF8_FLAG:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def single_folder(root: Path) -> Path | None:
    """The one folder ``root`` holds when it holds nothing else (an export zipped with its folder)."""
    children = entries(root)
    if len(children) == 1 and children[0].is_dir() and not children[0].is_symlink():
        return children[0]
    return None
