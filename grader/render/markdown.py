"""Markdown for a pull-request comment and for GitHub's job step summary (one renderer for both).

GitHub renders this as GitHub Flavored Markdown and passes a sanitised
subset of raw HTML through, so student text must be inert as both. Inline
text (table cells, list items) is backslash-escaped for markdown *and*
entity-escaped for HTML, then wrapped in ``<code>`` where it comes from the
student, because GitHub does not expand ``@mentions``, ``#123`` references or
``:emoji:`` inside code. Multi-line text (messages, printed output) goes into
``<pre>`` blocks: CommonMark passes a ``<pre>`` block through untouched up to
the closing tag, and entity-escaping makes sure the text cannot contain one.
"""

from __future__ import annotations

import html
import re

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import excerpt, neutralize_commands, redacted, visible
from grader.render.wording import failure_lines, points

OUTPUT_LINES = 30
OUTPUT_CHARS = 3000
#: GitHub rejects comments longer than 65,536 characters; leave room for the rest.
DETAILS_BUDGET = 50_000

_ICONS = {
    Outcome.PASSED: "✅",
    Outcome.FAILED: "❌",
    Outcome.ERROR: "💥",
    Outcome.TIMEOUT: "⏱️",
    Outcome.NOT_ATTEMPTED: "⬜",
    Outcome.DEFERRED: "⏳",
}
LABELS = {outcome: f"{_ICONS[outcome]} {outcome.label}" for outcome in Outcome}

# Every ASCII punctuation character CommonMark gives a meaning to; a
# backslash before any ASCII punctuation is always a literal, so escaping too
# much is harmless. ``&``, ``<`` and ``>`` become entities instead.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:@$^=\"'/])")


def md_inline(text: str) -> str:
    """Return ``text`` as literal inline markdown: one line, no markup, no HTML, nothing invisible."""
    flat = " ".join(neutralize_commands(visible(text)).split("\n"))
    return html.escape(_MD_SPECIAL.sub(r"\\\1", flat), quote=False)


def md_code(text: str) -> str:
    """Return student text as inline ``<code>``, where GitHub does not expand mentions or references."""
    return f"<code>{md_inline(text)}</code>"


def _html_inline(text: str) -> str:
    # Inside an HTML block (``<summary>``) markdown is not parsed, so only entities apply;
    # a blank line would end the block, so the text stays on one line.
    return html.escape(" ".join(neutralize_commands(visible(text)).split("\n")))


def _pre(text: str) -> str:
    return f"<pre>{html.escape(neutralize_commands(visible(text)))}</pre>"


def _check_label(check: CheckResult) -> str:
    label = f"{md_inline(check.function)}: {md_inline(check.description or check.name)}"
    return f"{label} *(hidden)*" if check.hidden else label


def _exercise_table(title: str, checks: tuple[CheckResult, ...]) -> list[str]:
    score = points(sum(c.points for c in checks))
    max_score = points(sum(c.max_points for c in checks))
    lines = [f"### {md_inline(title)} ({score}/{max_score})", "", "| check | outcome | points |", "| --- | --- | --- |"]
    for check in checks:
        lines.append(
            f"| {_check_label(check)} | {LABELS[check.outcome]} | {points(check.points)}/{points(check.max_points)} |"
        )
    lines.append("")
    return lines


def _details(check: CheckResult) -> str:
    if check.hidden:
        return f"- {LABELS[check.outcome]}: {md_inline(check.function)}: {md_inline(check.name)} *(hidden check)*\n"
    name = check.description or check.name
    summary = f"{LABELS[check.outcome]}: {_html_inline(check.function)}: {_html_inline(name)}"
    body = failure_lines(check)
    if check.output:
        body.append("Output:\n" + excerpt(check.output, max_lines=OUTPUT_LINES, max_chars=OUTPUT_CHARS))
    text = "\n".join(body) or LABELS[check.outcome]
    return f"<details><summary>{summary}</summary>\n\n{_pre(text)}\n\n</details>\n"


def render_markdown(report: Report) -> str:
    """Return the report as GitHub Flavored Markdown: score, a table per exercise, then what to fix."""
    counts = ", ".join(f"{count} {outcome.label}" for outcome, count in report.counts().items() if count)
    title = "## Grader report"
    if report.assignment:
        title += f": {md_inline(report.assignment)}"
    lines = [
        title,
        "",
        f"Student: {md_code(report.student)}",
        "",
        f"**Score: {points(report.score)}/{points(report.max_score)} ({report.percent:.1f}%)**"
        f" · {counts or 'no checks'}",
        "",
    ]
    for exercise in report.exercises():
        lines.extend(_exercise_table(exercise.title, tuple(redacted(c) for c in exercise.checks)))
    problems = [redacted(c) for c in report.checks if not c.outcome.ok]
    if problems:
        lines += ["### What to fix", ""]
        used = 0
        for shown, check in enumerate(problems):
            block = _details(check)
            if used + len(block) > DETAILS_BUDGET:
                rest = len(problems) - shown
                lines.append(f"*{rest} more not shown here; see the full report.*\n")
                break
            used += len(block)
            lines.append(block)
    if report.problems:
        lines += ["### Notes", ""]
        lines.extend(f"- {md_code(note)}" for note in report.problems)
        lines.append("")
    footer = [f"graded in {report.duration_s:.2f} s"]
    if report.grader_version:
        footer.append(f"grader {md_inline(report.grader_version)}")
    lines.append(f"<sub>{'; '.join(footer)}</sub>")
    return "\n".join(lines) + "\n"
