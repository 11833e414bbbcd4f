"""Jupyter notebooks in and out; the only module that touches nbformat.

A submitted notebook becomes one Python module: its code cells in order, with
IPython magics and shell lines turned into comments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import nbformat


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
    except Exception as exc:  # nbformat raises many kinds for malformed notebooks
        raise NotebookError(f"not a valid notebook: {str(exc).splitlines()[0][:200]}") from None
    return notebook


def notebook_to_source(raw: bytes, *, name: str) -> NotebookSource:
    notebook = read_notebook(raw, name=name)
    lines: list[str] = []
    line_map: list[tuple[int, int]] = []
    notes: list[str] = []
    number = 0
    for cell in notebook.cells:
        if cell.get("cell_type") != "code":
            continue
        number += 1
        source = cell.get("source", "")
        cell_lines = source.splitlines()
        if cell_lines and cell_lines[0].lstrip().startswith("%%"):
            notes.append(f"cell {number} skipped: cell magic {cell_lines[0].split()[0]}")
            continue
        for index, line in enumerate(cell_lines, start=1):
            stripped = line.lstrip()
            if stripped.startswith(("%", "!")):
                line = line[: len(line) - len(stripped)] + "pass  # " + stripped
            lines.append(line)
            line_map.append((number, index))
        lines.append("")
        line_map.append((0, 0))
    return NotebookSource("\n".join(lines) + "\n", tuple(line_map), tuple(notes))
