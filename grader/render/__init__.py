"""Renderers: each turns a ``Report`` into one output format and knows nothing else."""

from grader.render.escape import visible
from grader.render.html import environment, render_html
from grader.render.json import render_json
from grader.render.text import print_report, render_text

__all__ = ["environment", "print_report", "render_html", "render_json", "render_text", "visible"]
