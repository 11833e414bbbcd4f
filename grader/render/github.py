"""GitHub Actions output: workflow-command annotations and the job step summary.

The runner scans every line a step prints for workflow commands
(``::name key=value,...::data``), so whatever part of an annotation comes
from a student is an injection vector (``::add-mask::``, ``::stop-commands::``,
``::set-output``). Three layers keep it inert, following the escaping of
``@actions/core`` (``escapeData`` / ``escapeProperty``):

1. ``visible`` spells out control, bidi and line-separator characters, so the
   only line break left in student text is ``\\n``;
2. data escapes ``%``, ``\\r`` and ``\\n`` (``%25``, ``%0D``, ``%0A``) and
   property values also ``:`` and ``,`` (``%3A``, ``%2C``): each annotation is
   one physical line that starts with our own ``::error``/``::warning``;
3. ``neutralize_commands`` breaks up ``::`` and the legacy ``##[`` prefix, so
   the text stays inert even where another tool prints it back with its
   newlines restored (the Classroom reporter logs test messages verbatim).
"""

from __future__ import annotations

import posixpath

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import neutralize_commands, redacted, visible
from grader.render.markdown import render_markdown


def escape_data(text: str) -> str:
    """Escape a workflow command's message the way ``@actions/core`` does."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value (``file=``, ``title=``) the way ``@actions/core`` does."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _safe(text: str) -> str:
    return neutralize_commands(visible(text))


def _annotation(check: CheckResult, path_prefix: str) -> str:
    command = {Outcome.NOT_ATTEMPTED: "warning", Outcome.DEFERRED: "notice"}.get(check.outcome, "error")
    verdict = check.outcome.label
    properties: list[tuple[str, str]] = []
    if check.hidden:
        title = f"{check.function}: {check.name} (hidden): {verdict}"
        message = f"Hidden check {check.name} {verdict}."
    else:
        title = f"{check.function}: {check.description or check.name}: {verdict}"
        lines: list[str] = []
        location = check.location
        if location is not None:
            properties.append(("file", posixpath.join(path_prefix, location.file) if path_prefix else location.file))
            if location.cell is None:
                properties.append(("line", str(location.line)))
            else:
                # Annotations take a line of the file; a notebook's line is within a cell.
                lines.append(f"In {location.describe()}:")
        lines.append(check.message or f"{check.description or check.name}: {verdict}")
        if check.hint:
            lines.append(f"Hint: {check.hint}")
        message = "\n".join(lines)
    properties.append(("title", title))
    props = ",".join(f"{key}={escape_property(_safe(value))}" for key, value in properties)
    return f"::{command} {props}::{escape_data(_safe(message))}"


def render_annotations(report: Report, *, path_prefix: str = "") -> str:
    """Return one workflow command per check that did not pass, each on its own line.

    ``path_prefix`` is the submission's path relative to the repository root:
    locations are relative to the submission, annotations to the checkout.
    Hidden checks get only their name and verdict, and no file or line.
    """
    lines = [_annotation(redacted(check), path_prefix) for check in report.checks if not check.outcome.ok]
    return "".join(line + "\n" for line in lines)


def render_step_summary(report: Report) -> str:
    """Return the markdown to append to ``$GITHUB_STEP_SUMMARY``: the same text as a PR comment."""
    return render_markdown(report)
