"""The terminal report: a table per exercise, then what went wrong and how to fix it."""

from __future__ import annotations

from collections import Counter
from io import StringIO

from rich import box
from rich.console import Console, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from grader.models import CheckResult, Outcome, Report
from grader.render.escape import excerpt, neutralize_commands, redacted, visible
from grader.render.feedback import Feedback, feedback
from grader.render.wording import points

DEFAULT_WIDTH = 100
OUTPUT_LINES = 20
OUTPUT_CHARS = 4000

_STYLES = {
    Outcome.PASSED: "green",
    Outcome.FAILED: "bold red",
    Outcome.ERROR: "bold magenta",
    Outcome.TIMEOUT: "bold yellow",
    Outcome.NOT_ATTEMPTED: "dim",
    Outcome.DEFERRED: "cyan",
}


def _safe(text: str, style: str = "") -> Text:
    # Text objects are never parsed as markup, whatever the console's settings.
    return Text(neutralize_commands(visible(text)), style=style)


def _outcome(outcome: Outcome) -> Text:
    return Text(outcome.label, style=_STYLES[outcome])


def _check_label(check: CheckResult) -> Text:
    label = _safe(check.description or check.name)
    if check.hidden:
        label.append(" (hidden)", style="dim italic")
    return label


def _exercise_table(title: str, checks: tuple[CheckResult, ...]) -> Table:
    """One row per function: how many of its checks passed and its points (the failures are detailed above)."""
    score = points(sum(c.points for c in checks))
    max_score = points(sum(c.max_points for c in checks))
    table = Table(
        title=Text.assemble(_safe(title, "bold"), f"  {score}/{max_score}"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        expand=False,
    )
    table.add_column("function", overflow="fold")
    table.add_column("checks passed", no_wrap=True)
    table.add_column("points", justify="right", no_wrap=True)
    table.add_column("not passed", overflow="fold")
    by_function: dict[str, list[CheckResult]] = {}
    for check in checks:
        by_function.setdefault(check.function, []).append(check)
    for function, own in by_function.items():
        passed = sum(1 for c in own if c.outcome.ok)
        others = Counter(c.outcome for c in own if not c.outcome.ok)
        table.add_row(
            _safe(function),
            Text(f"{passed} of {len(own)}", style=_STYLES[Outcome.PASSED] if passed == len(own) else ""),
            Text(f"{points(sum(c.points for c in own))}/{points(sum(c.max_points for c in own))}"),
            Text(", ").join(Text(f"{n} {outcome.label}", style=_STYLES[outcome]) for outcome, n in others.items()),
        )
    return table


def _details(check: CheckResult) -> list[RenderableType]:
    heading = Text.assemble(
        _outcome(check.outcome),
        ": ",
        _safe(check.function, "bold"),
        " - ",
        _check_label(check),
    )
    if check.hidden:
        return [heading]
    parts: list[RenderableType] = [heading]
    body: list[RenderableType] = []
    if check.message:
        body.append(_safe(check.message))
    if check.hint:
        body.append(Text.assemble(("Hint: ", "bold cyan"), _safe(check.hint)))
    if check.location:
        body.append(Text.assemble(("Defined at: ", "bold"), _safe(check.location.describe())))
    if check.output:
        shown = excerpt(check.output, max_lines=OUTPUT_LINES, max_chars=OUTPUT_CHARS)
        body.append(Text("Output:", style="bold"))
        body.append(Padding(_safe(shown, "dim"), (0, 0, 0, 2), expand=False))
    parts.extend(Padding(part, (0, 0, 0, 2), expand=False) for part in body)
    return parts


def _summary(report: Report) -> Text:
    counts = ", ".join(f"{count} {outcome.label}" for outcome, count in report.counts().items() if count)
    return Text.assemble(
        ("Score: ", "bold"),
        (f"{points(report.score)}/{points(report.max_score)}", "bold"),
        f" ({report.percent:.1f}%)",
        f"  {counts or 'no checks'}",
    )


def _missing(arranged: Feedback, report: Report) -> list[RenderableType]:
    """One line per exercise with unattempted functions, one line for every exercise not submitted."""
    lines: list[RenderableType] = []
    for item in arranged.unattempted:
        lines.append(
            Text.assemble(
                ("- Not attempted in ", "bold"),
                _safe(report.exercise_titles.get(item.exercise, item.exercise), "bold"),
                ": ",
                _safe(", ".join(item.functions)),
                f" ({points(item.points)} points)",
            )
        )
    if arranged.not_submitted:
        lines.append(
            Text.assemble(
                ("- Not submitted: ", "bold"),
                _safe(", ".join(arranged.not_submitted)),
                f" ({arranged.missing_checks} checks, {points(arranged.missing_points)} points)",
            )
        )
    return lines


def renderables(report: Report) -> list[RenderableType]:
    """Return the report as rich renderables, shared by ``render_text`` and ``print_report``.

    What to fix comes first, each failure with its message, hint and
    location; then every check of the submitted exercises, compactly; then
    what was not handed in, one line each; the score last, where a
    terminal leaves the eye.
    """
    arranged = feedback(report)
    title = Text("Report", style="bold")
    if report.assignment:
        title.append(" for ")
        title.append(visible(report.assignment), style="bold")
    out: list[RenderableType] = [
        Text.assemble(title, "\nStudent: ", _safe(report.student, "bold")),
        Text(""),
    ]
    if arranged.fixes:
        out.append(Text(f"What to fix ({len(arranged.fixes)})", style="bold underline"))
        for check in arranged.fixes:
            out.extend(_details(check))
            out.append(Text(""))
    for exercise in arranged.exercises:
        checks = tuple(redacted(c) for c in exercise.checks)
        out.append(_exercise_table(exercise.title, checks))
    missing = _missing(arranged, report)
    if missing:
        out.append(Text("Not handed in yet", style="bold underline"))
        out.extend(missing)
        out.append(Text(""))
    if report.problems:
        out.append(Text("Notes", style="bold underline"))
        out.extend(Text.assemble("- ", _safe(note)) for note in report.problems)
        out.append(Text(""))
    out.append(_summary(report))
    if report.student_copy:
        out.append(Text(report.mode(), style="cyan"))
    footer = [f"graded in {report.duration_s:.2f} s"]
    if report.grader_version:
        footer.append(f"grader {visible(report.grader_version)}")
    footer.append(f"isolation: {', '.join(map(visible, report.isolation)) or 'none reported'}")
    out.append(Text("; ".join(footer), style="dim"))
    return out


def print_report(report: Report, console: Console | None = None) -> None:
    """Print the report to ``console`` (a colour terminal on stdout by default)."""
    console = console or Console(highlight=False, emoji=False)
    for renderable in renderables(report):
        console.print(renderable, highlight=False, emoji=False, markup=False)


def render_text(report: Report, *, console_width: int | None = None, color: bool = False) -> str:
    """Return the terminal report as a string, with ANSI colours only if ``color``.

    The width defaults to a fixed 100 columns rather than the environment's
    so the same report renders identically everywhere (golden files, CI logs).
    """
    buffer = StringIO()
    console = Console(
        file=buffer,
        width=console_width or DEFAULT_WIDTH,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        markup=False,
        highlight=False,
        emoji=False,
        legacy_windows=False,
        # Inside a Jupyter kernel rich would otherwise display the output itself, not write it to ``file``.
        force_jupyter=False,
    )
    print_report(report, console)
    text = buffer.getvalue()
    if color:
        return text
    # Rich pads table rows to their full width; trailing blanks only make diffs noisy.
    return "\n".join(line.rstrip() for line in text.split("\n"))
