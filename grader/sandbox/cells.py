"""A notebook's cells as they run in the worker: where a cell stopped, and the files ``%%writefile`` writes.

A notebook reaches the worker as one module (``grader.notebook``) in which
each code cell is a ``try`` block: the first statement that raises stops its
cell, as in Jupyter's "Run All", and ``stopped`` records where and why; the
next cell goes on. A ``%%writefile`` cell becomes a call of ``write_file``.
The worker collects the records after each import (``take``) and sends them
back as plain data; the trusted side reads them with ``read_stops``, which
bounds them like any answer.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

#: How many stopped cells one import reports; a notebook of thousands of failing cells gets the first ones.
MAX_STOPS = 50
#: Longest error message kept for a stopped cell.
MAX_ERROR_CHARS = 300
#: Largest file a ``%%writefile`` cell may write (the trusted side refuses larger ones first).
MAX_WRITE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CellStop:
    """A code cell stopped by an error at ``line``: the statements after it in that cell did not run."""

    file: str  # the notebook, relative to the submission
    cell: int  # as Jupyter numbers cells, from 1, markdown included
    line: int  # in the cell
    error: str  # "ModuleNotFoundError: No module named 'seaborn'"


# -- in the worker ------------------------------------------------------------------

_stops: list[tuple[str, int, int, str]] = []
_scratch: list[str] = []
#: Module file -> (first module line, last module line, notebook, cell) of each cell block in it.
_blocks: dict[str, list[tuple[int, int, str, int]]] = {}


def configure(scratch: str) -> None:
    """The worker's scratch folder: the only place ``write_file`` writes (never set outside a worker)."""
    _scratch[:] = [os.path.realpath(scratch)]


def begin(file: str, blocks: str) -> None:
    """A notebook's cells start here (line 2 of its part of the module): ``blocks`` maps its lines to cells.

    ``blocks`` is ``first:count:cell;...``, lines counted from the notebook's
    part of the module, which may follow another part in the same module.
    """
    caller = sys._getframe(1)
    base = caller.f_lineno - 2
    new = []
    for block in blocks.split(";"):
        first, count, cell = (int(part) for part in block.split(":"))
        new.append((base + first, base + first + count - 1, file, cell))
    # The same file run again (by a test, say) maps its lines afresh.
    start, end = new[0][0], new[-1][1]
    known = [b for b in _blocks.get(caller.f_code.co_filename, ()) if b[1] < start or b[0] > end]
    _blocks[caller.f_code.co_filename] = known + new


def stopped() -> None:
    """Record the exception being handled as the one that stopped the cell whose ``try`` block caught it.

    The line is the innermost one of that cell the error went through (in a
    class body, say), as a kernel's traceback shows it.
    """
    exc = sys.exc_info()[1]
    if exc is None or len(_stops) >= MAX_STOPS:
        return
    module = sys._getframe(1).f_code.co_filename
    tb = exc.__traceback__
    if tb is None:
        return
    block = next((b for b in _blocks.get(module, ()) if b[0] <= tb.tb_lineno <= b[1]), None)
    if block is None:
        return
    first, last, file, cell = block
    line = tb.tb_lineno
    while (tb := tb.tb_next) is not None:
        if tb.tb_frame.f_code.co_filename == module and first <= tb.tb_lineno <= last:
            line = tb.tb_lineno
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a student's exception whose __str__ raises
        message = "<an unprintable message>"
    error = f"{type(exc).__qualname__}: {message}" if message else type(exc).__qualname__
    _stops.append((file, cell, line - first + 1, error[:MAX_ERROR_CHARS]))


def take() -> list[list[Any]]:
    """The cells stopped since the last call, as plain lists for the answer."""
    taken = [list(stop) for stop in _stops]
    _stops.clear()
    return taken


def write_file(path: str, text: str) -> None:
    """``%%writefile``: write ``text`` to ``path``, relative to the current folder, only inside scratch."""
    if not _scratch:
        raise RuntimeError("%%writefile runs only in the grader's sandbox")
    root = _scratch[0]
    target = os.path.realpath(path)
    data = text.encode("utf-8")
    if os.path.isabs(path) or os.path.commonpath([root, target]) != root:
        raise PermissionError(f"%%writefile {path}: only a file inside the notebook's folder can be written")
    if len(data) > MAX_WRITE_BYTES:
        raise OSError(f"%%writefile {path}: over the {MAX_WRITE_BYTES // 1024} KiB limit")
    folder = os.path.dirname(target)
    os.makedirs(folder, exist_ok=True)
    with open(target, "wb") as out:
        out.write(data)
    # A folder listed by an import before this write must be listed again for ``import helper`` to see it.
    invalidate = getattr(sys.path_importer_cache.get(folder), "invalidate_caches", None)
    if invalidate is not None:
        invalidate()


# -- on the trusted side ------------------------------------------------------------


def read_stops(value: object) -> list[CellStop]:
    """The stopped cells a worker reported, bounded; anything malformed is dropped."""
    if not isinstance(value, list):
        return []
    stops: list[CellStop] = []
    for item in value[:MAX_STOPS]:
        if not (isinstance(item, list) and len(item) == 4):
            continue
        file, cell, line, error = item
        if isinstance(file, str) and isinstance(error, str) and type(cell) is int and type(line) is int:
            stops.append(CellStop(file[:500], cell, line, error[:MAX_ERROR_CHARS]))
    return stops
