"""Renderers: each turns a ``Report`` (or a ``ClassReport``) into one output format and knows nothing else."""

from collections.abc import Callable

from grader.models import Report
from grader.render.autolab import render_autolab
from grader.render.classroom import classroom_output_line, render_classroom
from grader.render.csv import render_checks_csv, render_grades_csv
from grader.render.escape import visible
from grader.render.github import render_annotations, render_step_summary
from grader.render.gradebook import GRADEBOOKS, render_gradebook
from grader.render.gradescope import render_gradescope
from grader.render.html import environment, render_html
from grader.render.json import render_json
from grader.render.junit import render_junit
from grader.render.markdown import render_markdown
from grader.render.overview import render_class_pages, render_overview
from grader.render.prairielearn import render_prairielearn
from grader.render.text import print_report, render_text

#: Every per-report format by its ``--format`` name, with the file name ``grader grade`` gives it.
REPORT_FORMATS: dict[str, tuple[Callable[[Report], str], str]] = {
    "text": (render_text, "report.txt"),
    "json": (render_json, "result.json"),
    "junit": (render_junit, "junit.xml"),
    "gradescope": (render_gradescope, "gradescope.json"),
    "prairielearn": (render_prairielearn, "prairielearn.json"),
    "autolab": (render_autolab, "autolab.txt"),
    "github": (render_annotations, "annotations.txt"),
    "classroom": (render_classroom, "classroom.txt"),
    "markdown": (render_markdown, "summary.md"),
    "csv": (render_checks_csv, "checks.csv"),
    "html": (render_html, "report.html"),
}

__all__ = [
    "GRADEBOOKS",
    "REPORT_FORMATS",
    "classroom_output_line",
    "environment",
    "print_report",
    "render_annotations",
    "render_autolab",
    "render_checks_csv",
    "render_class_pages",
    "render_classroom",
    "render_gradebook",
    "render_grades_csv",
    "render_gradescope",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_overview",
    "render_prairielearn",
    "render_step_summary",
    "render_text",
    "visible",
]
