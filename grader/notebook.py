"""Jupyter notebooks in and out; the only module that touches nbformat.

A submitted notebook becomes one Python module made of its code cells'
definitions, in order; everything else is skipped with a note.
"""

from __future__ import annotations

import ast
import json
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
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NotebookError("not a notebook: the file is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"not a valid notebook: the JSON is broken at line {exc.lineno}, column {exc.colno} "
            "(was the file cut short, or edited outside Jupyter?)"
        ) from None
    if not isinstance(data, dict) or "cells" not in data:
        raise NotebookError("not a notebook: the JSON has no 'cells'")
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds for malformed notebooks
        raise NotebookError(f"not a valid notebook: {str(exc).splitlines()[0][:200]}") from None
    return notebook


_KEEP = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_GUARDED = {ast.Import: "ImportError", ast.ImportFrom: "ImportError", ast.Assign: "Exception",
            ast.AnnAssign: "Exception", ast.AugAssign: "Exception"}


def notebook_to_source(raw: bytes, *, name: str) -> NotebookSource:
    """The notebook's definitions as one module, as if its cells ran top to bottom.

    Only what defines something is kept: functions and classes as written,
    imports and assignments guarded so that one failing line cannot stop the
    rest. Top-level code that plots, prints, trains or fails is skipped and
    noted, so it never zeroes functions that are correct on their own.
    Cells are numbered as Jupyter shows them, from 1, markdown included.
    """
    notebook = read_notebook(raw, name=name)
    out = _Output()
    notes: list[str] = []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        cell_lines = [_without_magic(line) for line in str(cell.get("source", "")).splitlines()]
        first = next((line.strip() for line in cell_lines if line.strip()), "")
        if first.startswith("pass  # %%"):
            notes.append(f"cell {number} skipped: it is a {first.split()[2]} cell magic")
            continue
        try:
            tree = ast.parse("\n".join(cell_lines))
        except SyntaxError as exc:
            notes.append(f"cell {number} skipped: syntax error at line {exc.lineno}: {exc.msg}")
            continue
        skipped: list[ast.stmt] = []
        for index, node in enumerate(tree.body):
            shares_line = (index > 0 and tree.body[index - 1].end_lineno == node.lineno) or (
                index + 1 < len(tree.body) and tree.body[index + 1].lineno == node.end_lineno
            )
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            end = node.end_lineno or node.lineno
            segment = [ast.unparse(node)] if shares_line else cell_lines[start - 1 : end]
            if isinstance(node, _KEEP):
                out.add(segment, number, start)
            elif type(node) in _GUARDED:
                out.add_guarded(segment, number, start, _GUARDED[type(node)])
            elif not (_is_docstring(node) or isinstance(node, ast.Pass)):
                skipped.append(node)
        if skipped:
            where = ", ".join(str(node.lineno) for node in skipped[:5]) + (" ..." if len(skipped) > 5 else "")
            notes.append(
                f"cell {number}: top-level code at line(s) {where} was not run when grading "
                "(only definitions, imports and assignments are; plots, prints and training loops are skipped)"
            )
    return NotebookSource(out.text(), tuple(out.line_map), tuple(notes))


class _Output:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line_map: list[tuple[int, int]] = []

    def add(self, segment: list[str], cell: int, start: int) -> None:
        for offset, line in enumerate(segment):
            self.lines.append(line)
            self.line_map.append((cell, start + offset))

    def add_guarded(self, segment: list[str], cell: int, start: int, exception: str) -> None:
        self._generated("try:")
        self.add(["    " + line for line in segment], cell, start)
        self._generated(f"except {exception}:")
        self._generated("    pass")

    def _generated(self, line: str) -> None:
        self.lines.append(line)
        self.line_map.append((0, 0))

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _without_magic(line: str) -> str:
    """IPython-only syntax (``%magic``, ``!shell``, ``obj?``) becomes a harmless ``pass``."""
    stripped = line.lstrip()
    indent = line[: len(line) - len(stripped)]
    if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")):
        return f"{indent}pass  # {stripped}"
    return line


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


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
            "## Check your work\n\nSave the notebook, then run the next cell. It grades the functions above "
            "in a sandbox and prints a score and a hint for every failed check. From a terminal: "
            f"`grader check {module}.ipynb --html report.html` also writes a report card."
        )
    )
    cells.append(new_code_cell(f"!grader check {module}.ipynb"))
    notebook = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
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
