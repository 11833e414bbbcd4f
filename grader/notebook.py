"""Jupyter notebooks in and out; the only module that touches nbformat.

A submitted notebook becomes one Python module that runs its code cells'
definitions in order, cell by cell, as Jupyter's "Run All" does: a cell
stops at its first error and the next one goes on. Everything else is
skipped with a note (docs/reference/notebooks.md).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import json
import re
import shlex
import tokenize
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from grader.bounds import (
    MAX_CELLS,
    MAX_SUBMISSION_PARSE_TOKENS,
    OverBudget,
    Unreadable,
    check_json,
    check_source,
    check_source_size,
    parse_reason,
)
from grader.models import Location
from grader.sandbox.cells import MAX_WRITE_BYTES, CellStop

if TYPE_CHECKING:
    import nbformat


def _nbformat() -> Any:
    """nbformat, imported when a notebook is first read or written, not with this module.

    It brings jsonschema and attrs: 0.4 s of CPU that a grading process
    (which imports this module for a notebook's cell stops but never reads a
    notebook) and a class without notebooks would otherwise pay.
    """
    import nbformat

    return nbformat


class NotebookError(Exception):
    """The file is not a readable Jupyter notebook."""


@dataclass(frozen=True)
class NotebookSource:
    """A notebook turned into module source, with a map back to its cells."""

    source: str
    #: For each 1-based line of ``source``: (code cell number, line in cell); (0, 0) if generated.
    line_map: tuple[tuple[int, int], ...]
    #: What was skipped and why, for the report.
    notes: tuple[str, ...] = ()
    #: Tokens of its code cells: what reading it took of the submission's ``MAX_SUBMISSION_PARSE_TOKENS``.
    tokens: int = 0

    def locate(self, line: int) -> tuple[int | None, int]:
        if 1 <= line <= len(self.line_map):
            cell, cell_line = self.line_map[line - 1]
            if cell:
                return cell, cell_line
        return None, line


def read_notebook(raw: bytes, *, name: str) -> nbformat.NotebookNode:
    try:
        text = raw.decode("utf-8-sig")  # a BOM, as some editors write, is not an error
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not UTF-8 text") from None
    try:
        check_json(text)  # before json.loads, which recurses per level and builds every value
        data = json.loads(text)
    except Unreadable as exc:
        raise NotebookError(exc.reason) from None
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not a valid notebook: the JSON is broken at line {exc.lineno}, column {exc.colno} "
            "(was the file cut short, or edited outside Jupyter?)"
        ) from None
    except (RecursionError, MemoryError) as exc:
        raise NotebookError(parse_reason(exc)) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise NotebookError(f"not a valid notebook: {str(exc)[:200]}") from None
    if not isinstance(data, dict) or not ("cells" in data or "worksheets" in data):  # v3 keeps cells in worksheets
        raise NotebookError("not a notebook: the JSON has no 'cells'")
    if not isinstance(data.get("nbformat"), int):
        raise NotebookError("not a notebook: the JSON has no 'nbformat' version number")
    cells = data.get("cells")
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise NotebookError(f"holds {len(cells):,} cells, over the limit of {MAX_CELLS:,}: not read")
    del text  # the values are read: a notebook of images need not be held as text too
    try:
        with warnings.catch_warnings():  # e.g. cells without ids: noise for a student, not a reason to reject
            warnings.simplefilter("ignore")
            return _from_data(data)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for malformed notebooks
        notebook = _plain_notebook(data)
        if notebook is None:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise NotebookError(f"not a valid notebook: {reason}") from None
        return notebook


def _from_data(data: dict[str, object]) -> nbformat.NotebookNode:
    """``nbformat.reads(text, as_version=4)`` from the JSON already parsed, rather than parsing it again.

    As ``reads`` does, a notebook that does not validate is read all the
    same (``reads`` only logs it); one nbformat cannot convert raises.
    """
    nbformat = _nbformat()
    major, minor = nbformat.reader.get_version(data)
    if major not in nbformat.versions:
        raise nbformat.NBFormatError(f"unsupported nbformat version {major}")
    notebook = nbformat.convert(nbformat.versions[major].to_notebook_json(data, minor=minor), 4)
    with contextlib.suppress(nbformat.ValidationError):
        nbformat.validate(notebook)
    return notebook


def _plain_notebook(data: dict[str, object]) -> nbformat.NotebookNode | None:
    """A v4 notebook that nbformat rejects only for missing bookkeeping (cell metadata, outputs).

    Jupyter still opens and runs such a file, so its code is graded; the
    cells need just a ``cell_type`` and a ``source``.
    """
    cells = data.get("cells")
    if data.get("nbformat") != 4 or not isinstance(cells, list):
        return None
    plain = []
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return None
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(part, str) for part in source):
            source = "".join(source)
        if not isinstance(source, str):
            return None
        plain.append({"cell_type": cell["cell_type"], "source": source})
    return _nbformat().from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": plain})


_KEEP = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_DEFINES = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.AugAssign)
_COMPOUND = (ast.If, ast.Try, ast.TryStar)
#: Cell magics whose body is Python run in the notebook's namespace (``%%timeit`` runs it in a function).
_PYTHON_CELL_MAGICS = frozenset({"time", "capture"})
_HELP = re.compile(r"\?{0,2}[A-Za-z_][\w.]*(?:\(\))?\?{0,2}")
_MAGIC_ASSIGN = re.compile(r"[A-Za-z_][\w.,\s]*=\s*[!%]")
_SKIP_REASON = (
    "(only definitions, imports and assignments are; plots, prints, training loops "
    "and calls of the notebook's own functions are skipped)"
)
_NOTE_CELL = re.compile(r"cell (\d+)")
#: What a notebook's ``%%writefile`` cells may add to its module, in all.
MAX_WRITES_CHARS = 8 * MAX_WRITE_BYTES
#: The worker-side half of the semantics (``grader.sandbox.cells``), bound once at the top of the module.
_RUNTIME = "import grader.sandbox.cells as _grader_cells"


@dataclass(frozen=True)
class _Code:
    lines: list[str]
    tree: ast.Module


@dataclass(frozen=True)
class _WriteFile:
    path: str
    body: str
    append: bool


def notebook_to_source(raw: bytes, *, name: str, tokens_left: int = MAX_SUBMISSION_PARSE_TOKENS) -> NotebookSource:
    """The notebook as one module that runs its cells as Jupyter's "Run All" does, less what is not graded.

    Each code cell becomes a ``try`` block holding the cell's lines in place
    (so a line of the module maps to one line of one cell): the first
    statement that raises stops its cell, and the next cell goes on
    (``grader.sandbox.cells`` records where, for the report). Within a cell
    only definitions run: functions and classes, imports, assignments, and
    top-level ``if``/``try`` blocks made only of these; top-level code that
    plots, prints or trains, and assignments that call the notebook's own
    functions (``losses = train(model)``), are blanked out and noted, and
    count as having run without error. A ``%%writefile`` cell writes its
    file at its place in the run. Cells are numbered as Jupyter shows them,
    from 1, markdown included.
    """
    notebook = read_notebook(raw, name=name)
    if len(notebook.cells) > MAX_CELLS:  # v3 keeps its cells in worksheets: counted once converted
        raise NotebookError(f"holds {len(notebook.cells):,} cells, over the limit of {MAX_CELLS:,}: not read")
    sources = [str(cell.get("source", "")) for cell in notebook.cells if cell.get("cell_type") == "code"]
    sources = [source for source in sources if _parsed_as_python(source)]  # %%writefile has its own bounds
    try:
        check_source_size(sum(map(len, sources)))  # before they are joined and encoded: two more copies
        tokens = check_source("\n".join(sources).encode("utf-8", "surrogatepass"), left=tokens_left)
        return dataclasses.replace(_to_source(notebook, name=name), tokens=tokens)
    except OverBudget as exc:
        raise NotebookError(f"its code cells are {exc.reason}: not read") from None
    except Unreadable as exc:
        raise NotebookError(f"its code cells are {exc.reason}") from None
    except (RecursionError, MemoryError) as exc:  # the walks over each cell's tree recurse on what the parser built
        raise NotebookError(parse_reason(exc)) from None


def _to_source(notebook: nbformat.NotebookNode, *, name: str) -> NotebookSource:
    cells: list[tuple[int, _Code | _WriteFile]] = []
    notes: list[str] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        parsed = _parse_cell(str(cell.get("source", "")), number, notes)
        if parsed is not None:
            cells.append((number, parsed))
    trees = [parsed.tree for _, parsed in cells if isinstance(parsed, _Code)]
    own = {
        node.name for tree in trees for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    checkers = {name for tree in trees for node in tree.body for name in _grader_imports(node)}
    out = _Output(name)
    written: dict[str, str] = {}
    for number, parsed in cells:
        if isinstance(parsed, _WriteFile):
            _write_file(parsed, number, written, out, notes)
            continue
        lines, kept, skipped = _definitions_only(parsed, own, checkers)
        if skipped:
            where = ", ".join(str(n.lineno) for n in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            notes.append(f"cell {number}: top-level code at line(s) {where} was not run when grading {_SKIP_REASON}")
        if kept:
            out.add_cell(lines, number)
    notes.sort(key=_cell_of)
    if len(notes) > MAX_NOTES:  # 9,000 print cells were 9,000 notes: 1.8 MB of report
        rest = notes[MAX_NOTES - 1 :]
        notes[MAX_NOTES - 1 :] = [
            f"cells {_cell_of(rest[0])} to {_cell_of(rest[-1])}: {len(rest):,} more notes like these (cells skipped, "
            "or code in them not run when grading)"
        ]
    return NotebookSource(out.text(), tuple(out.line_map), tuple(notes))


#: Notes on one notebook's cells listed one by one; the rest are counted in one more.
MAX_NOTES = 12


def _cell_of(note: str) -> int:
    """The cell a note is about (each starts "cell N"), to list notes in cell order."""
    found = _NOTE_CELL.match(note)
    return int(found.group(1)) if found else 0


def _definitions_only(cell: _Code, own: set[str], checkers: set[str]) -> tuple[list[str], bool, list[ast.stmt]]:
    """The cell's lines with what is not run blanked out in place, whether anything is left, and what to note.

    The hand-out's "check your work" cell and ``from __future__`` imports
    (which only a module's first lines may hold) are blanked silently.
    """
    lines = list(cell.lines)
    body = cell.tree.body
    skipped: list[ast.stmt] = []
    blanked = 0
    for index, node in enumerate(body):
        if isinstance(node, _KEEP) or _is_docstring(node) or isinstance(node, ast.Pass):
            continue
        if isinstance(node, _DEFINES) and not (_grader_imports(node) or _is_future(node) or _calls_any(node, own)):
            continue
        if isinstance(node, _COMPOUND) and _defines_only(node, own):
            continue
        if not (_grader_imports(node) or _calls_checker(node, checkers) or _is_future(node)):
            skipped.append(node)
        shares_line = (index > 0 and body[index - 1].end_lineno == node.lineno) or (
            index + 1 < len(body) and body[index + 1].lineno == node.end_lineno
        )
        _blank(lines, node, in_place=shares_line)
        blanked += 1
    return lines, blanked < len(body), skipped


def _blank(lines: list[str], node: ast.stmt, *, in_place: bool) -> None:
    """Remove ``node`` from ``lines``, keeping every other statement on its line and every line where it was.

    A statement sharing a line with another (``import torch; print(x)``)
    becomes ``pass``, continued with backslashes over the lines it spanned.
    """
    first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    if not in_place:
        lines[first : last + 1] = [""] * (last - first + 1)
        return
    # Column offsets count UTF-8 bytes.
    head = lines[first].encode()[: node.col_offset].decode()
    tail = lines[last].encode()[node.end_col_offset or 0 :].decode()
    if first == last:
        lines[first] = f"{head}pass{tail}"
        return
    lines[first] = f"{head}pass \\"
    lines[first + 1 : last] = ["\\"] * (last - first - 1)
    lines[last] = tail


def _write_file(cell: _WriteFile, number: int, written: dict[str, str], out: _Output, notes: list[str]) -> None:
    """A ``%%writefile`` cell: the file as the notebook's writes have made it so far, written at this point.

    The whole file each time, so that a notebook imported once per exercise
    in one worker writes the same file, never appending twice.
    """
    shown = cell.path if len(cell.path) <= 200 else cell.path[:200] + "..."
    refused = _unsafe_path(cell.path)
    if refused:
        notes.append(f"cell {number}: %%writefile {shown} was not run: {refused}")
        return
    path = PurePosixPath(cell.path).as_posix()
    text = (written.get(path, "") if cell.append else "") + cell.body
    call = f"_grader_cells.write_file({path!r}, {text!r})"
    if len(text.encode("utf-8")) > MAX_WRITE_BYTES:
        refused = f"the file would be over {MAX_WRITE_BYTES // 1024} KiB"
    elif out.written + len(call) > MAX_WRITES_CHARS:  # many appends to one file: each write carries it whole
        refused = f"the notebook's %%writefile cells write over {MAX_WRITES_CHARS // 2**20} MiB in all"
    if refused:
        notes.append(f"cell {number}: %%writefile {shown} was not run: {refused}")
        return
    written[path] = text
    out.written += len(call)
    out.add_cell([call], number)


def _unsafe_path(path: str) -> str:
    """Why ``%%writefile`` may not write ``path`` in the sandbox's scratch folder ('' if it may)."""
    pure = PurePosixPath(path)
    if not path or "\0" in path or path.startswith("~") or pure.is_absolute():
        return "only a relative path inside the notebook's folder is written (not one starting with '/' or '~')"
    if ".." in pure.parts:
        return "only a path inside the notebook's folder is written (no '..')"
    if pure.as_posix() in ("", "."):
        return "it names a folder, not a file"
    return ""


def _parsed_as_python(code: str) -> bool:
    """A code cell whose body is parsed as Python: any but a cell magic other than ``%%time`` and ``%%capture``."""
    head = next((line.strip() for line in code.splitlines() if line.strip()), "")
    return not head.startswith("%%") or head[2:].partition(" ")[0] in _PYTHON_CELL_MAGICS


def _parse_cell(code: str, number: int, notes: list[str]) -> _Code | _WriteFile | None:
    """A code cell's lines (IPython syntax made harmless, line for line) and their syntax tree.

    Plain Python is parsed as written, so a line inside a string or ending
    in a comment such as ``# right?`` is never mistaken for IPython syntax.
    """
    lines = code.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    head = lines[first].strip()
    if head.startswith("%%"):
        magic, _, arguments = head[2:].partition(" ")
        if magic == "writefile":
            return _parse_writefile(arguments, lines[first + 1 :], number, notes)
        if magic not in _PYTHON_CELL_MAGICS:
            notes.append(f"cell {number} skipped: it is a %%{magic} cell magic, not Python")
            return None
        lines[first] = ""  # the body of %%time / %%capture runs as the notebook's own code
    try:
        return _Code(lines, ast.parse("\n".join(lines)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    lines = [_without_magic(line) for line in lines]
    try:
        return _Code(lines, ast.parse("\n".join(lines)))
    except SyntaxError as exc:
        notes.append(f"cell {number} skipped: syntax error at line {exc.lineno}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        notes.append(f"cell {number} skipped: it cannot be read as Python ({type(exc).__name__})")
    return None


def _parse_writefile(arguments: str, body: list[str], number: int, notes: list[str]) -> _WriteFile | None:
    """``%%writefile [-a] NAME`` and the text it writes (each line ending in a newline, as IPython passes it)."""
    try:
        words = shlex.split(arguments)
    except ValueError as exc:
        notes.append(f"cell {number} skipped: %%writefile {arguments[:200]}: {exc}")
        return None
    append = any(word in ("-a", "--append") for word in words)
    names = [word for word in words if word not in ("-a", "--append")]
    if len(names) != 1 or names[0].startswith("-"):
        notes.append(f"cell {number} skipped: %%writefile needs one file name, as in %%writefile helper.py")
        return None
    return _WriteFile(names[0], "".join(line + "\n" for line in body), append)


def _grader_imports(node: ast.stmt) -> set[str]:
    """The names an ``import grader...`` / ``from grader... import ...`` statement binds (empty for any other)."""
    if isinstance(node, ast.Import) and any(_is_grader(alias.name) for alias in node.names):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0 and _is_grader(node.module or ""):
        return {alias.asname or alias.name for alias in node.names}
    return set()


def _is_grader(module: str) -> bool:
    return module == "grader" or module.startswith("grader.")


def _calls_checker(node: ast.stmt, checkers: set[str]) -> bool:
    """``check()`` or ``grader.jupyter.check(...)``, alone on its line, with ``check`` imported from the grader."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return False
    func = node.value.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id in checkers


def _calls_any(node: ast.AST, functions: set[str]) -> bool:
    return any(
        isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in functions
        for sub in ast.walk(node)
    )


def _defines_only(node: ast.stmt, own: set[str]) -> bool:
    """A top-level ``if``/``try`` block holding only definitions, imports and assignments."""
    if isinstance(node, (*_KEEP, ast.Pass)) or _is_docstring(node):
        return True
    if isinstance(node, _DEFINES):
        return not (_grader_imports(node) or _is_future(node) or _calls_any(node, own))
    if isinstance(node, ast.If):
        return not _calls_any(node.test, own) and all(_defines_only(n, own) for n in node.body + node.orelse)
    if isinstance(node, ast.Try | ast.TryStar):
        parts = node.body + node.orelse + node.finalbody + [n for h in node.handlers for n in h.body]
        return all(_defines_only(n, own) for n in parts)
    return False


class _Output:
    """The module being written: cells as ``try`` blocks, and the map of its lines to cells the worker reads."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.line_map: list[tuple[int, int]] = []
        #: (module line of the cell's line 1, number of lines, cell number), one per cell block.
        self.blocks: list[tuple[int, int, int]] = []
        #: Characters of ``%%writefile`` calls so far (``MAX_WRITES_CHARS``).
        self.written = 0

    def add_cell(self, lines: list[str], cell: int) -> None:
        """One cell as a ``try`` block: its first error stops it, is recorded, and the next cell goes on.

        Every generated line is the same for every cell and every student,
        so they add nothing to one notebook's code that another lacks
        (``similarity``): the cell numbers are in the ``begin`` line only.
        """
        if not self.lines:
            self._generated(_RUNTIME)
            self._generated("")  # the ``begin`` line, written once every cell is in
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        inside = _string_interior_lines(lines)
        self._generated("try:")
        self.blocks.append((len(self.lines) + 1, len(lines), cell))
        for index, line in enumerate(lines):
            # Lines inside a multi-line string stay as written: indenting them would change the string.
            self.lines.append(line if index in inside or not line.strip() else "    " + line)
            self.line_map.append((cell, index + 1))
        self._generated("    pass")
        self._generated("except BaseException:")
        self._generated("    _grader_cells.stopped()")

    def _generated(self, line: str) -> None:
        self.lines.append(line)
        self.line_map.append((0, 0))

    def text(self) -> str:
        if self.blocks:
            cells = ";".join(f"{first}:{count}:{cell}" for first, count, cell in self.blocks)
            self.lines[1] = f"_grader_cells.begin({self.name!r}, {cells!r})"
        return "\n".join(self.lines) + "\n"


#: The ``begin`` line of a notebook's module: bookkeeping, not code a student wrote (``without_bookkeeping``).
_BEGIN = re.compile(rb"^_grader_cells\.begin\(.*\)$", re.MULTILINE)


def without_bookkeeping(module: bytes) -> bytes:
    """A module's source without the lines that name its notebook and map its cells (for comparing code)."""
    return _BEGIN.sub(b"", module)


def _string_interior_lines(segment: list[str]) -> set[int]:
    """0-based indexes of the lines of ``segment`` that continue a multi-line string."""
    inside: set[int] = set()
    fstring_starts: list[int] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO("\n".join(segment) + "\n").readline):
            if token.type == tokenize.STRING:
                inside.update(range(token.start[0], token.end[0]))
            elif token.type == getattr(tokenize, "FSTRING_START", -1):
                fstring_starts.append(token.start[0])
            elif token.type == getattr(tokenize, "FSTRING_END", -1) and fstring_starts:
                inside.update(range(fstring_starts.pop(), token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        return set()
    return inside


def _without_magic(line: str) -> str:
    """IPython-only syntax (``%magic``, ``!shell``, ``x = !ls``, ``obj?``) becomes a harmless ``pass``."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    help_line = "?" in stripped and _HELP.fullmatch(stripped.rstrip()) is not None
    if stripped.startswith(("%", "!")) or help_line or _MAGIC_ASSIGN.match(stripped):
        return f"{indent}pass  # {stripped}"
    return line


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def describe_stop(stop: CellStop, cut_off: Sequence[tuple[str, Location]]) -> str:
    """For the report: a notebook cell stopped by an error, and the definitions it kept from running."""
    where = Location(file=stop.file, line=stop.line, cell=stop.cell).describe()
    text = f"{where}: {stop.error}. The cell stopped there, as in Jupyter, and the next cells went on"
    if cut_off:
        names = ", ".join(f"{function} (line {site.line})" for function, site in cut_off)
        text += f"; so this cell did not define {names}"
    return text


def check_cell(module: str) -> str:
    """The hand-out's last cell: the in-kernel check of exercise ``module``.

    It names no assignment: the check finds the student copy beside the
    notebook, so no path of the teacher's machine is written into a hand-out.
    """
    return f"from grader.jupyter import check\n\ncheck(exercise={module!r})"


def code_cells_notebook(sources: list[str]) -> str:
    """A notebook (nbformat v4 JSON) of these code cells, in order: what a kernel ran, to grade like a file."""
    from nbformat.v4 import new_code_cell, new_notebook

    return _nbformat().writes(new_notebook(cells=[new_code_cell(source) for source in sources]))


def handout_notebook(stub_source: str, *, module: str) -> str:
    """A student hand-out notebook for one exercise module, as nbformat v4 JSON.

    Markdown cells teach (the module docstring, then each function's), code
    cells hold the imports and the stubs, and the last cell shows how to
    check the work. Graded as handed out, every check is ``not_attempted``.
    """
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nbformat = _nbformat()
    tree = ast.parse(stub_source)
    lines = stub_source.splitlines()
    doc = ast.get_docstring(tree) or module
    title, _, body = doc.partition("\n")
    cells = [
        new_markdown_cell(
            f"# {module}: {title.strip().rstrip('.')}\n\n{body.strip()}\n\n"
            "Fill in each function below (replace `raise NotImplementedError`), "
            "run the cells, then check your work with the last cell."
        )
    ]
    imports = [
        ast.get_source_segment(stub_source, n) or "" for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    if imports:
        cells.append(new_code_cell("\n".join(imports)))
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        signature = f"{node.name}({', '.join(a.arg for a in node.args.args)})"
        explanation = ast.get_docstring(node) or ""
        cells.append(new_markdown_cell(f"## `{signature}`\n\n{_docstring_markdown(explanation)}"))
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        cells.append(new_code_cell("\n".join(lines[start - 1 : node.end_lineno])))
    cells.append(
        new_markdown_cell(
            "## Check your work\n\nRun the next cell. It grades your functions as they are now in this "
            "notebook's kernel (what you have run; there is no need to save first) in a sandbox, and shows "
            'your score and, for every failed check, what went wrong and a hint. `check("apply_softmax")` '
            "checks one function. From a terminal, `grader check "
            f"{module}.ipynb --html report.html` grades the saved notebook and writes a report card."
        )
    )
    cells.append(new_code_cell(check_cell(module)))
    notebook = new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "grader": {"exercise": module},
        },
    )
    nbformat.validate(notebook)
    return nbformat.writes(notebook)


def _docstring_markdown(text: str) -> str:
    """Docstring prose as markdown: doctest examples become a code block."""
    prose: list[str] = []
    example: list[str] = []
    for line in text.splitlines():
        if line.startswith(">>>") or (example and line.strip()):
            example.append(line)
        else:
            if example:
                prose.append("```python\n" + "\n".join(example) + "\n```")
                example = []
            prose.append(line.replace("``", "`"))  # reST literals to markdown code
    if example:
        prose.append("```python\n" + "\n".join(example) + "\n```")
    return "\n".join(prose)
