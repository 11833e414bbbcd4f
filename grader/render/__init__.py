"""Renderers: each turns a ``Report`` (or a ``ClassReport``) into one output format and knows nothing else."""

from grader.render.csv import render_checks_csv, render_grades_csv
from grader.render.escape import visible
from grader.render.html import environment, render_html
from grader.render.json import render_json
from grader.render.overview import render_overview
from grader.render.text import print_report, render_text

__all__ = [
    "environment",
    "print_report",
    "render_checks_csv",
    "render_grades_csv",
    "render_html",
    "render_json",
    "render_overview",
    "render_text",
    "visible",
]
