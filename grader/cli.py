"""The ``grader`` command: thin click commands, each calling one library function."""

from __future__ import annotations

import functools
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

# Before torch imports numpy: its OpenBLAS would start a thread per core that
# spins for a while (0.1 s of CPU per run), and the grader makes no BLAS call.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import click

from grader import __version__
from grader.assignment import Assignment
from grader.batch import default_class_dir, grade_class
from grader.errors import (
    EXIT_CODES,
    AssignmentError,
    GraderError,
    IncompleteError,
    ScoreBelowThreshold,
    UsageError,
)
from grader.models import Report
from grader.output import claim_output, write_atomic, write_ci_files, write_class_outputs, write_student_outputs
from grader.platforms import PLATFORMS, autograde, conventional_assignment, process_started
from grader.progress import progress_display, summarize_class
from grader.render import GRADEBOOKS, REPORT_FORMATS, print_report, render_annotations, render_gradebook, render_html
from grader.roster import LAYOUTS
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.student_copy import find_student_copy, open_assignment, read_student_copy, require_full
from grader.submission import load_submission

EXIT_CODES_HELP = "\b\nExit codes:\n" + "\n".join(f"  {code}  {meaning}" for code, meaning in EXIT_CODES)


class _GraderGroup(click.Group):
    """Turns every ``GraderError`` into its message on stderr and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GraderError as exc:
            click.echo(exc.format_message(), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


assignment_option = click.option(
    "--assignment",
    "assignment_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The assignment: its folder, a hand-out folder, or a student copy (assignment.grader). Default: "
    "the copy in the checked work's folder or above, else the bundled PyTorch-fundamentals assignment.",
)


def _load(assignment_dir: Path | None, *, near: Path | None = None, full_for: str | None = None) -> Assignment:
    """The assignment a command works with; ``full_for`` names a command that needs the answer key."""
    if assignment_dir is not None and not assignment_dir.exists():
        raise UsageError(f"--assignment {assignment_dir}: no such file or folder")
    assignment = open_assignment(assignment_dir, near=near)
    if full_for is not None:
        return require_full(assignment, full_for)
    if assignment_dir is not None and near is not None and (copy := find_student_copy(near)) is not None:
        _warn_if_other_version(assignment, copy)
    return assignment


def _warn_if_other_version(assignment: Assignment, copy: Path) -> None:
    """A student copy beside the work that was written from another version of the assignment graded with."""
    try:
        theirs = read_student_copy(copy)
    except AssignmentError:
        return
    if theirs.fingerprint() != assignment.fingerprint():
        click.echo(
            f"note: {copy} is a {theirs.describe()}, written from another version of the assignment than "
            f"--assignment gives ({assignment.describe()}, fingerprint {assignment.fingerprint()[:12]}): "
            "grading with --assignment",
            err=True,
        )


timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Upper bound of every call's time budget, in seconds (default: the assignment's, 5).",
)
memory_option = click.option(
    "--memory",
    type=click.IntRange(min=256),
    default=None,
    help="Memory above torch's baseline per worker, in MiB (default: the assignment's, 1024).",
)


def _limits(assignment: Assignment, timeout: float | None, memory: int | None) -> Limits:
    return assignment.limits.overridden(timeout_s=timeout, memory_mib=memory)


@click.group(cls=_GraderGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
def cli() -> None:
    """Grade PyTorch fundamentals exercises: fast, sandboxed, with feedback that teaches."""


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("path", type=click.Path(path_type=Path))
@assignment_option
@click.option(
    "--format",
    "-f",
    "formats",
    multiple=True,
    metavar="NAME[:FILE]",
    help=f"Output format, optionally with the file it goes to; repeatable. One of: "
    f"{', '.join(sorted(REPORT_FORMATS))} (default: text). github prints annotations and, under "
    "GitHub Actions, appends the job summary; classroom sets the Classroom 'result' output.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the output to FILE instead of the terminal (with a single --format).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the HTML report card to FILE.",
)
@click.option("--student", default=None, help="Student name on the report (default: the file's or folder's name).")
@timeout_option
@memory_option
@click.option(
    "--fail-under",
    type=click.FloatRange(0, 100),
    default=None,
    help="Exit with code 1 when the score is below PERCENT.",
)
@click.option(
    "--step-summary",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="GITHUB_STEP_SUMMARY",
    default=None,
    help="With --format github: append the markdown summary here [env: GITHUB_STEP_SUMMARY].",
)
@click.option(
    "--github-output",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="GITHUB_OUTPUT",
    default=None,
    help="With --format classroom: append result=... here [env: GITHUB_OUTPUT].",
)
@click.option(
    "--watch",
    is_flag=True,
    help="Grade PATH again whenever a file under it is saved, until Ctrl-C (the sandbox stays warm).",
)
def check(
    path: Path,
    assignment_dir: Path | None,
    formats: tuple[str, ...],
    output: Path | None,
    html_path: Path | None,
    student: str | None,
    timeout: float | None,
    memory: int | None,
    fail_under: float | None,
    step_summary: Path | None,
    github_output: Path | None,
    watch: bool,
) -> None:
    """Grade the exercises in PATH: an exercise file, a notebook, a folder or a .zip."""
    targets = _format_targets(formats, output)
    if not path.exists():
        raise UsageError(f"{path} does not exist")
    assignment = _load(assignment_dir, near=path)
    limits = _limits(assignment, timeout, memory)
    if watch:
        if fail_under is not None or any(name in ("github", "classroom") for name, _ in targets):
            raise UsageError(
                "--watch shows each result as it comes: it does not go with --fail-under, github or classroom"
            )
        _watch(path, assignment, limits, student, lambda report: _show(report, path, targets, html_path))
        return
    submission = load_submission(path, assignment, name=student)  # reads files; runs nothing
    if not submission.exercises and not submission.problems:
        example = assignment.exercises[0]
        raise UsageError(
            f"{path}: no exercise found. Name files after the exercises ({', '.join(assignment.names)}) "
            f"or define their functions (for example {example.functions[0]} of {example.name})."
        )
    # The zygote first: it imports torch while this process imports it too.
    with Zygote().start() as zygote:
        from grader.grading import Grader, exercises_to_check

        with Grader(assignment, limits=limits, zygote=zygote) as grader:
            report = grader.grade(submission, exercises=exercises_to_check(submission, assignment))
    _show(report, path, targets, html_path)
    names = {name for name, _ in targets}
    write_ci_files(
        report,
        step_summary=step_summary if "github" in names else None,
        github_output=github_output if "classroom" in names else None,
    )
    _enforce(report, fail_under)


def _show(report: Report, path: Path, targets: list[tuple[str, Path | None]], html_path: Path | None) -> None:
    """Write the report card and every requested format."""
    if html_path is not None:
        write_atomic(html_path, render_html(report))
    for name, target in targets:
        if name == "text" and target is None:
            print_report(report)
        elif name == "github":  # annotations need paths relative to the checkout, not the submission
            _emit(render_annotations(report, path_prefix=_checkout_prefix(path)), target)
        else:
            _emit(REPORT_FORMATS[name][0](report), target)


def _watch(
    path: Path, assignment: Assignment, limits: Limits, student: str | None, show: Callable[[Report], None]
) -> None:
    """``check --watch``: grade, then grade again on every save, until Ctrl-C (exit code 0)."""

    def status(line: str) -> None:
        click.echo(f"[{time.strftime('%H:%M:%S')}] {line}", err=True)

    try:
        with Zygote().start() as zygote:  # first, as in ``check``: it imports torch while this process does
            from grader.grading import Grader
            from grader.watch import stop_on_interrupt, watch

            # From here Ctrl-C only asks to stop: a round in progress finishes, the sandbox shuts down cleanly.
            with stop_on_interrupt() as stop, Grader(assignment, limits=limits, zygote=zygote) as grader:
                watch(path, grader, name=student, stop=stop, on_report=show, on_status=status)
    except KeyboardInterrupt:  # while the sandbox was starting, or pressed twice: stopping is what was asked
        pass
    click.echo("stopped watching", err=True)


def _checkout_prefix(path: Path) -> str:
    """Where the submission's files are, relative to the current directory (the CI checkout)."""
    base = (path if path.is_dir() else path.parent).resolve()
    try:
        relative = base.relative_to(Path.cwd().resolve())
    except ValueError:  # outside the checkout: GitHub could not place it anyway
        return ""
    return "" if str(relative) == "." else relative.as_posix()


def _format_targets(specs: tuple[str, ...], output: Path | None) -> list[tuple[str, Path | None]]:
    """``--format NAME[:FILE]`` options (and ``--output``) as (format, file or None for the terminal)."""
    targets: list[tuple[str, Path | None]] = []
    for spec in specs or ("text",):
        name, _, file = spec.partition(":")
        if name not in REPORT_FORMATS:
            raise UsageError(f"unknown --format {name!r}; choose from {', '.join(sorted(REPORT_FORMATS))}")
        targets.append((name, Path(file) if file else None))
    if output is not None:
        if len(targets) != 1 or targets[0][1] is not None:
            raise UsageError("--output goes with a single --format; with several, write --format NAME:FILE")
        targets = [(targets[0][0], output)]
    if sum(1 for _, target in targets if target is None) > 1:
        raise UsageError("only one --format can go to the terminal: give the others a file (--format NAME:FILE)")
    return targets


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        write_atomic(output, text)


def _enforce(report: Report, fail_under: float | None) -> None:
    if fail_under is not None and report.percent < fail_under:
        raise ScoreBelowThreshold(f"{report.percent:.1f}% is below --fail-under {fail_under:g}%")


@cli.command(name="list")
@assignment_option
def list_(assignment_dir: Path | None) -> None:
    """Show the assignment's exercises, functions, checks and points."""
    from grader.catalog import catalog, render_catalog

    assignment = _load(assignment_dir)
    click.echo(render_catalog(assignment, catalog(assignment)), nl=False)


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("class_dir", type=click.Path(path_type=Path), required=False)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("report"),
    show_default=True,
    help="Folder for the report cards, results.json, grades.csv and index.html.",
)
@assignment_option
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="Parallel grading processes (default: the number of cores).",
)
@click.option("--force", is_flag=True, help="Regrade every student, ignoring cached results.")
@click.option(
    "--format",
    "-f",
    "formats",
    type=click.Choice(sorted(REPORT_FORMATS)),
    multiple=True,
    help="Also write this format for every student, in OUT/<student>/ (repeatable).",
)
@timeout_option
@memory_option
@click.option(
    "--layout",
    type=click.Choice(["auto", *LAYOUTS]),
    default="auto",
    show_default=True,
    help="How CLASS_DIR is laid out: a folder per student, or an LMS's bulk download (default: detected).",
)
@click.option(
    "--gradebook",
    type=click.Choice(GRADEBOOKS),
    default=None,
    help="Also write OUT/gradebook-<LMS>.csv, in the shape that LMS imports.",
)
@click.option(
    "--gradebook-column",
    default=None,
    metavar="NAME",
    help="The gradebook's grade column, e.g. 'Week 3 (123456)' for an existing Canvas assignment "
    "(default: the assignment's title).",
)
def grade(
    class_dir: Path | None,
    out_dir: Path,
    assignment_dir: Path | None,
    jobs: int | None,
    force: bool,
    formats: tuple[str, ...],
    timeout: float | None,
    memory: int | None,
    layout: str,
    gradebook: str | None,
    gradebook_column: str | None,
) -> None:
    """Grade a whole class: CLASS_DIR holds one entry (folder, .py, .ipynb or .zip) per student.

    CLASS_DIR may also be a .zip of such entries, or an LMS's bulk download
    (Canvas, Moodle, Blackboard, Brightspace, Gradescope, GitHub Classroom),
    as a folder or a .zip. Without CLASS_DIR, the bundled sample class is graded.
    """
    assignment = _load(assignment_dir, full_for="grader grade")
    limits = _limits(assignment, timeout, memory)
    source = class_dir if class_dir is not None else default_class_dir()
    written = [out_dir / "index.html", out_dir / "grades.csv", out_dir / "results.json"]
    with claim_output(out_dir):  # one run per --out: a second is refused, a killed one's leftovers removed
        with progress_display() as on_progress:
            result = grade_class(
                source,
                out_dir,
                assignment,
                layout=None if layout == "auto" else layout,
                jobs=jobs,
                force=force,
                limits=limits,
                on_progress=on_progress,
                write_student=functools.partial(write_student_outputs, formats=formats),
                on_roster=lambda roster: click.echo(roster.describe()),
            )
        write_class_outputs(out_dir, result)
        if gradebook is not None:
            written.append(out_dir / f"gradebook-{gradebook}.csv")
            write_atomic(written[-1], render_gradebook(result, gradebook, column=gradebook_column))
    summary = summarize_class(result)
    click.echo(f"{summary}\nwrote {', '.join(map(str, written[:-1]))} and {written[-1]}")
    if result.errors:  # those students were neither reported nor cached: a re-run grades them
        raise IncompleteError("; ".join(result.errors))


@cli.command(epilog=EXIT_CODES_HELP)
@assignment_option
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Output format."
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the output to FILE instead of the terminal.",
)
def selftest(assignment_dir: Path | None, fmt: str, output: Path | None) -> None:
    """Check the checks: the reference passes all, the stubs are not_attempted, every mutant is caught.

    Exits with code 4 when anything is off.
    """
    assignment = _load(assignment_dir, full_for="grader selftest")
    with Zygote().start() as zygote:  # first, as in ``check``
        from grader.grading import Grader
        from grader.selftest import render_selftest
        from grader.selftest import selftest as run_selftest

        with Grader(assignment, zygote=zygote) as grader:
            result = run_selftest(assignment, grader)
    text = json.dumps(result.to_dict(), indent=2) + "\n" if fmt == "json" else render_selftest(result)
    _emit(text, output)
    if not result.ok:
        raise AssignmentError("selftest failed: see the report above")


@cli.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write the hand-out into.",
)
@assignment_option
def assign(out_dir: Path, assignment_dir: Path | None) -> None:
    """Write the student hand-out: each exercise's stub, a teaching notebook, and the student copy.

    The student copy (assignment.grader) lets `grader check` and the notebooks' check cell grade a
    student's work on their own machine: it holds the public checks and the reference's recorded
    answers to their inputs, never the solutions or a hidden check.
    """
    from grader.handout import write_handout  # runs the checks: torch, imported only by the commands that grade

    assignment = _load(assignment_dir, full_for="grader assign")
    written, recorded = write_handout(assignment, out_dir)
    judged = sum(len(checks) for checks in recorded.answers.values())
    click.echo(
        f"wrote {len(written)} files to {out_dir}: the stubs, their notebooks and {written[-1].name} "
        f"({judged} public checks recorded, {len(recorded.hidden)} hidden checks left to your grade)"
    )
    _note_unrecorded(recorded.unrecordable)


def _note_unrecorded(lines: list[str]) -> None:
    """Reference answers a student copy could not carry: those checks defer to the teacher's grade."""
    for line in lines:
        click.echo(f"note: not recorded, so checked only when you grade: {line}", err=True)


@cli.command(name="student-copy")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    required=True,
    help="Folder to write assignment.grader into.",
)
@assignment_option
def student_copy_command(out_dir: Path, assignment_dir: Path | None) -> None:
    """Write only the student copy (assignment.grader), as `grader assign` does beside the stubs."""
    from grader.recording import write_student_copy  # runs the checks: see ``assign``

    assignment = _load(assignment_dir, full_for="grader student-copy")
    path, recorded = write_student_copy(assignment, out_dir)
    click.echo(f"wrote {path}: {assignment.describe()}, fingerprint {assignment.fingerprint()[:12]}")
    _note_unrecorded(recorded.unrecordable)


@cli.command(name="new-exercise")
@click.argument("name")
@click.option(
    "--assignment",
    "assignment_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Assignment folder to add to (default: the current folder; created if needed).",
)
@click.option("--title", default=None, help="The exercise's title (first line of the stub's docstring).")
def new_exercise_command(name: str, assignment_dir: Path | None, title: str | None) -> None:
    """Scaffold exercise NAME: a stub, a solution, a checks file, a mutant, and its assignment.toml entry."""
    from grader.scaffold import new_exercise

    written = new_exercise(assignment_dir or Path.cwd(), name, title=title)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(
        "next: fill them in, then run `grader selftest"
        + (f" --assignment {assignment_dir}`" if assignment_dir else "`")
    )


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _exercise_option(what: str) -> Callable[[_Command], _Command]:
    return click.option(
        "--exercise",
        "exercises",
        multiple=True,
        metavar="NAME",
        help=f"{what} only this exercise (repeatable; default: the whole assignment).",
    )


@cli.command(name="autograde", epilog=EXIT_CODES_HELP)
@click.argument("platform", type=click.Choice(sorted(PLATFORMS)))
@click.argument("submission", type=click.Path(path_type=Path), required=False)
@click.option(
    "--root",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The platform's grading folder (default: /autograder for gradescope, /grade for prairielearn).",
)
@assignment_option
@_exercise_option("Grade")
@timeout_option
@memory_option
def autograde_command(
    platform: str,
    submission: Path | None,
    root: Path | None,
    assignment_dir: Path | None,
    exercises: tuple[str, ...],
    timeout: float | None,
    memory: int | None,
) -> None:
    """Grade a submission on a grading platform's machine, writing the result where the platform reads it.

    \b
    gradescope:   ROOT/submission -> ROOT/results/results.json   (ROOT /autograder)
    prairielearn: ROOT/student    -> ROOT/results/results.json   (ROOT /grade)
    autolab:      SUBMISSION      -> standard output, the JSON autoresult on its last line

    Without --assignment, ROOT/source/assignment (gradescope) or ROOT/tests
    (prairielearn) is used when it holds an assignment.toml, else the bundled one.
    """
    chosen = PLATFORMS[platform]
    assignment = _load(assignment_dir or conventional_assignment(chosen, root), full_for="grader autograde")
    done = autograde(
        chosen,
        assignment,
        root=root,
        submission=submission,
        exercises=exercises,
        limits=_limits(assignment, timeout, memory),
        started=process_started(),
    )
    if done.results is None:
        _emit(done.text, None)
    else:
        report = done.report
        click.echo(f"{report.score:g}/{report.max_score:g}: wrote {done.results}")


@cli.command(epilog=EXIT_CODES_HELP)
@click.argument("platform", type=click.Choice(["gradescope"]))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("autograder.zip"),
    show_default=True,
    help="The zip to write.",
)
@assignment_option
@_exercise_option("Have run_autograder grade")
@click.option(
    "--torch-index",
    metavar="URL",
    default=None,
    help="Package index setup.sh installs torch from (default: PyTorch's CPU builds; a mirror for courses behind one).",
)
def bundle(
    platform: str, out: Path, assignment_dir: Path | None, exercises: tuple[str, ...], torch_index: str | None
) -> None:
    """Write PLATFORM's autograder bundle: setup.sh, run_autograder, this grader as a wheel, the assignment."""
    from grader.bundle import TORCH_INDEX, write_gradescope_bundle

    assignment = _load(assignment_dir, full_for="grader bundle")
    written = write_gradescope_bundle(
        out, assignment, exercises=exercises, torch_index=TORCH_INDEX if torch_index is None else torch_index
    )
    click.echo(
        f"wrote {out} ({len(written.entries)} files; {written.wheel}, {written.torch} CPU build "
        f"from {written.torch_index}, "
        f"assignment {assignment.title!r}): upload it as the autograder of a Gradescope programming "
        "assignment, on the Ubuntu 22.04 or 24.04 base image"
    )


@cli.command()
def doctor() -> None:
    """Show which sandbox isolation layers are active on this machine, and what that means."""
    # Imported here: its probes of the sandbox's layers (and their policy) are this command's alone.
    from grader.doctor import describe_assignment, diagnose, meaning

    result = diagnose()
    click.echo(f"assignment: {describe_assignment(Path.cwd())}")
    click.echo("")
    for layer in result.layers:
        mark = "active  " if layer.active else "MISSING "
        click.echo(f"{mark}{layer.name:18} {meaning(layer.name)}")
        click.echo(f"{'':8}{'':18} {layer.detail}")
    click.echo("")
    click.echo(result.verdict())


def main() -> None:
    """Console-script entry point."""
    # Everything imported so far lives as long as the process: frozen, the
    # collector stops re-walking it. Commands that grade in this process import
    # torch when they run; ``grader grade`` never does (its zygote forks the
    # grading processes torch-warm).
    gc.freeze()
    sys.exit(cli.main(prog_name="grader", standalone_mode=True))
