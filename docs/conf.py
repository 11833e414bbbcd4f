"""Sphinx configuration: MyST Markdown pages, the furo theme, the CLI from click, the API from docstrings.

The site builds offline: no intersphinx, nothing fetched. ``tests/test_docs.py``
builds it with warnings as errors, so a broken reference or a page left out
of every toctree fails the test suite.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from grader import __version__

project = "grader"
author = "the grader maintainers"
copyright = "2026, the grader maintainers"
release = __version__
version = __version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx_click"]
source_suffix = {".md": "markdown"}
root_doc = "index"
# "--timeout" stays two hyphens, not an en dash.
smartquotes = False
exclude_patterns = ["_build"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Links to a heading inside a page: [text](page.md#the-heading).
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"

html_theme = "furo"
html_title = f"grader {__version__}"
html_static_path = ["_static"]


def _exit_codes_table() -> Any:
    """The exit codes as a table, read from ``grader.errors.EXIT_CODES`` so the page never drifts."""
    from docutils import nodes

    from grader.errors import EXIT_CODES

    def row(*cells: str) -> nodes.row:
        return nodes.row("", *(nodes.entry("", nodes.paragraph(text=cell)) for cell in cells))

    group = nodes.tgroup("", nodes.colspec(colwidth=1), nodes.colspec(colwidth=8), cols=2)
    group += nodes.thead("", row("code", "meaning"))
    group += nodes.tbody("", *(row(str(code), meaning) for code, meaning in EXIT_CODES))
    return nodes.table("", group)


class ExitCodes(SphinxDirective):
    """``{exit-codes}``: the table of exit codes every command shares."""

    def run(self) -> list[Any]:
        return [_exit_codes_table()]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("exit-codes", ExitCodes)
    return {"parallel_read_safe": True}
