"""Jupyter notebooks in and out; the only module that touches nbformat.

A submitted notebook becomes one Python module made of its code cells'
definitions, in order; everything else is skipped with a note.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
import warnings
from dataclasses import dataclass

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


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
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not a valid notebook: the JSON is broken at line {exc.lineno}, column {exc.colno} "
            "(was the file cut short, or edited outside Jupyter?)"
        ) from None
    if not isinstance(data, dict) or not ("cells" in data or "worksheets" in data):  # v3 keeps cells in worksheets
        raise NotebookError("not a notebook: the JSON has no 'cells'")
    if not isinstance(data.get("nbformat"), int):
        raise NotebookError("not a notebook: the JSON has no 'nbformat' version number")
    try:
        with warnings.catch_warnings():  # e.g. cells without ids: noise for a student, not a reason to reject
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for malformed notebooks
        notebook = _plain_notebook(data)
        if notebook is None:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
            raise NotebookError(f"not a valid notebook: {reason}") from None
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
    return nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": plain})


_KEEP = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_GUARDED = {
    ast.Import: "ImportError",
    ast.ImportFrom: "ImportError",
    ast.Assign: "Exception",
    ast.AnnAssign: "Exception",
    ast.AugAssign: "Exception",
}
_COMPOUND = (ast.If, ast.Try, ast.TryStar)
#: Cell magics whose body is Python run in the notebook's namespace (``%%timeit`` runs it in a function).
_PYTHON_CELL_MAGICS = frozenset({"time", "capture"})
_HELP = re.compile(r"\?{0,2}[A-Za-z_][\w.]*(?:\(\))?\?{0,2}")
_MAGIC_ASSIGN = re.compile(r"[A-Za-z_][\w.,\s]*=\s*[!%]")
_SKIP_REASON = (
    "(only definitions, imports and assignments are; plots, prints, training loops "
    "and calls of the notebook's own functions are skipped)"
)


def notebook_to_source(raw: bytes, *, name: str) -> NotebookSource:
    """The notebook's definitions as one module, as if its cells ran top to bottom.

    Only what defines something is kept: functions and classes as written,
    imports and assignments guarded so that one failing line cannot stop the
    rest, and top-level ``if``/``try`` blocks made only of such definitions,
    guarded too. Top-level code that plots, prints, trains or fails is
    skipped and noted, so it never zeroes functions that are correct on
    their own; so are assignments that call the notebook's own functions
    (``losses = train(model)``), which would run the student's experiment.
    Cells are numbered as Jupyter shows them, from 1, markdown included.
    """
    notebook = read_notebook(raw, name=name)
    cells: list[tuple[int, list[str], ast.Module]] = []
    notes: list[str] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        parsed = _parse_cell(str(cell.get("source", "")), number, notes)
        if parsed is not None:
            cells.append((number, *parsed))
    own = {
        node.name
        for _, _, tree in cells
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    checkers = {name for _, _, tree in cells for node in tree.body for name in _grader_imports(node)}
    out = _Output()
    for number, cell_lines, tree in cells:
        skipped: list[ast.stmt] = []
        for index, node in enumerate(tree.body):
            if _grader_imports(node) or _calls_checker(node, checkers):
                continue  # the hand-out's "check your work" cell: the grader is never part of a submission
            shares_line = (index > 0 and tree.body[index - 1].end_lineno == node.lineno) or (
                index + 1 < len(tree.body) and tree.body[index + 1].lineno == node.end_lineno
            )
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            end = node.end_lineno or node.lineno
            segment = ast.unparse(node).splitlines() if shares_line else cell_lines[start - 1 : end]
            if isinstance(node, _KEEP):
                out.add(segment, number, start)
            elif type(node) in _GUARDED and not _calls_any(node, own):
                out.add_guarded(segment, number, start, _GUARDED[type(node)])
            elif isinstance(node, _COMPOUND) and _defines_only(node, own):
                out.add_guarded(segment, number, start, "Exception")
            elif not (_is_docstring(node) or isinstance(node, ast.Pass)):
                skipped.append(node)
        if skipped:
            where = ", ".join(str(node.lineno) for node in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            notes.append(f"cell {number}: top-level code at line(s) {where} was not run when grading {_SKIP_REASON}")
    return NotebookSource(out.text(), tuple(out.line_map), tuple(notes))


def _parse_cell(code: str, number: int, notes: list[str]) -> tuple[list[str], ast.Module] | None:
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
        magic = head[2:].split(maxsplit=1)[0] if head[2:].strip() else ""
        if magic not in _PYTHON_CELL_MAGICS:
            notes.append(f"cell {number} skipped: it is a %%{magic} cell magic, not Python")
            return None
        lines[first] = ""  # the body of %%time / %%capture runs as the notebook's own code
    try:
        return lines, ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    lines = [_without_magic(line) for line in lines]
    try:
        return lines, ast.parse("\n".join(lines))
    except SyntaxError as exc:
        notes.append(f"cell {number} skipped: syntax error at line {exc.lineno}: {exc.msg}")
    except (ValueError, RecursionError, MemoryError) as exc:
        notes.append(f"cell {number} skipped: it cannot be read as Python ({type(exc).__name__})")
    return None


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
    if type(node) in _GUARDED:
        return not _calls_any(node, own)
    if isinstance(node, ast.If):
        return not _calls_any(node.test, own) and all(_defines_only(n, own) for n in node.body + node.orelse)
    if isinstance(node, ast.Try | ast.TryStar):
        parts = node.body + node.orelse + node.finalbody + [n for h in node.handlers for n in h.body]
        return all(_defines_only(n, own) for n in parts)
    return False


class _Output:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line_map: list[tuple[int, int]] = []

    def add(self, segment: list[str], cell: int, start: int) -> None:
        for offset, line in enumerate(segment):
            self.lines.append(line)
            self.line_map.append((cell, start + offset))

    def add_guarded(self, segment: list[str], cell: int, start: int, exception: str) -> None:
        inside = _string_interior_lines(segment)
        self._generated("try:")
        # Lines inside a multi-line string stay as written: indenting them would change the string.
        self.add([line if i in inside else "    " + line for i, line in enumerate(segment)], cell, start)
        self._generated(f"except {exception}:")
        self._generated("    pass")

    def _generated(self, line: str) -> None:
        self.lines.append(line)
        self.line_map.append((0, 0))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


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


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def check_cell(module: str) -> str:
    """The hand-out's last cell: the in-kernel check of exercise ``module``.

    It names no assignment: the check finds the student copy beside the
    notebook, so no path of the teacher's machine is written into a hand-out.
    """
    return f"from grader.jupyter import check\n\ncheck(exercise={module!r})"


def code_cells_notebook(sources: list[str]) -> str:
    """A notebook (nbformat v4 JSON) of these code cells, in order: what a kernel ran, to grade like a file."""
    return nbformat.writes(new_notebook(cells=[new_code_cell(source) for source in sources]))


def handout_notebook(stub_source: str, *, module: str) -> str:
    """A student hand-out notebook for one exercise module, as nbformat v4 JSON.

    Markdown cells teach (the module docstring, then each function's), code
    cells hold the imports and the stubs, and the last cell shows how to
    check the work. Graded as handed out, every check is ``not_attempted``.
    """
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
