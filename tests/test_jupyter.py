"""The in-kernel check: a hand-out notebook run in a real kernel, graded from memory, never saved."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from grader import models
from grader.assignment import Assignment
from grader.catalog import catalog
from grader.handout import write_handout
from grader.jupyter import CheckError, CheckResult, check, kernel_cells
from grader.models import Outcome, Report
from grader.notebook import describe_stop
from grader.sandbox.cells import CellStop
from grader.service import Request, kernel_location, kernel_report, kernel_submission, select

EX05 = "ex05_activations"
NAIVE_SOFTMAX = "def apply_softmax(x, dim):\n    e = torch.exp(x)\n    return e / e.sum(dim=dim, keepdim=True)\n"
ANSI = re.compile("\x1b")


def reference(assignment: Assignment, exercise: str) -> tuple[str, dict[str, str]]:
    """The reference solution's imports, and each function's source by name."""
    source = assignment.exercise(exercise).solution.read_text(encoding="utf-8")
    tree = ast.parse(source)
    imports = "\n".join(
        ast.get_source_segment(source, n) or "" for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
    )
    functions = {n.name: ast.get_source_segment(source, n) or "" for n in tree.body if isinstance(n, ast.FunctionDef)}
    return imports, functions


def fill_in(nb: nbformat.NotebookNode, assignment: Assignment, exercise: str) -> None:
    """Type the reference bodies into the stub cells, in memory (the file on disk stays as handed out)."""
    imports, functions = reference(assignment, exercise)
    for cell in nb.cells[:-1]:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        if defined:
            cell.source = "\n\n".join(functions[name] for name in defined)
        elif all(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body):
            cell.source = imports


def outputs(cell: nbformat.NotebookNode) -> tuple[str, str]:
    """The HTML and the plain text a cell displayed."""
    html = plain = ""
    for output in cell.outputs:
        data = output.get("data", {})
        html += data.get("text/html", "")
        plain += data.get("text/plain", "") + output.get("text", "")
    return html, plain


def every_output(nb: nbformat.NotebookNode) -> str:
    return json.dumps([c.outputs for c in nb.cells if c.cell_type == "code"])


@pytest.mark.slow
def test_a_handout_notebook_is_checked_from_the_kernel_not_the_saved_file(
    bundled: Assignment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notebook_client: Callable[..., Any]
) -> None:
    write_handout(bundled, tmp_path)
    path = tmp_path / f"{EX05}.ipynb"
    on_disk = path.read_bytes()
    nb = nbformat.reads(on_disk.decode(), as_version=4)
    assert nb.cells[-1].source == f"from grader.jupyter import check\n\ncheck(exercise={EX05!r})"
    fill_in(nb, bundled, EX05)
    # Run before the hand-out's check cell: a helper the kernel wrote with %%writefile, which the
    # sandbox's replay of the kernel's cells must write and import too, or apply_sigmoid fails.
    nb.cells[-1:-1] = [
        new_code_cell("%%writefile kernel_helper.py\nimport torch\n\ndef sigmoid(x):\n    return torch.sigmoid(x)"),
        new_code_cell("def apply_sigmoid(x):\n    return kernel_helper.sigmoid(x)\nimport kernel_helper"),
    ]
    nb.cells += [
        new_code_cell(NAIVE_SOFTMAX),  # a mistake, run after the check ...
        new_code_cell("check()"),  # ... shows up in the next check, with no file saved
        new_code_cell('check("apply_softmax")'),
        new_code_cell(
            "import sys\n"
            f"key = ({str(bundled.root / 'solutions')!r}, {str(bundled.checks_dir)!r})\n"
            "print(sorted(name for name, m in list(sys.modules.items())"
            " if str(getattr(m, '__file__', None) or '').startswith(key)"
            " or name.startswith('_grader_reference')"
            " or name in ('grader.plugin', 'grader.grading', 'grader.engine', 'grader.checking', 'pytest')))"
        ),
    ]
    # The kernel's connection file and IPython's history go under tmp_path, not the home folder.
    for variable in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "JUPYTER_DATA_DIR"):
        monkeypatch.setenv(variable, str(tmp_path / variable.lower()))
    notebook_client(nb, cwd=tmp_path, timeout=300).execute()

    assert path.read_bytes() == on_disk  # nothing was saved: the kernel's code was graded
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert not ANSI.search(every_output(nb))

    points = int(sum(c.points for c in catalog(bundled) if c.exercise == EX05))  # one point per check
    full_html, full_text = outputs(nb.cells[-5])
    assert f"Score: {points} / {points}" in full_html and "(100.0%)" in full_html and "Every check passed." in full_html
    assert f"Score: {points}/{points} (100.0%)" in full_text and "What to fix" not in full_text
    # The hand-out's check cell named no folder: it found the student copy beside the notebook.
    assert "Checked against your student copy of PyTorch fundamentals" in full_html
    assert "stopped" not in full_text and (tmp_path / "kernel_helper.py").is_file()

    wrong_html, wrong_text = outputs(nb.cells[-3])
    # The naive exp / sum overflows: it fails the ±1000 check and the 60-200 one (issue 23), nothing else.
    assert f"Score: {points - 2} / {points}" in wrong_html
    assert "apply_softmax_large_magnitudes" in wrong_html and "apply_softmax_moderately_large" in wrong_html
    assert "Hint:" in wrong_html
    assert re.search(r"defined in In \[\d+\], line 1", wrong_html)
    assert "failed: apply_softmax" in wrong_text and "<" not in wrong_text.split("\n")[0]

    one_html, _ = outputs(nb.cells[-2])
    softmax = int(sum(c.points for c in catalog(bundled) if c.function == "apply_softmax"))
    assert f"Score: {softmax - 2} / {softmax}" in one_html and "binary_classifier" not in one_html

    _, modules = outputs(nb.cells[-1])
    assert modules.strip() == "[]"  # the kernel never loaded a check, a solution or the grading engine


def test_kernel_cells_read_ipython_input_history() -> None:
    class History:
        def __init__(self) -> None:
            self.input_hist_raw = ["", "import torch", "", "def f(x):\n    return x", "   \n"]

    class Shell:
        history_manager = History()

    assert kernel_cells(Shell()) == [(1, "import torch"), (3, "def f(x):\n    return x")]


def test_check_outside_a_kernel_is_a_clear_error() -> None:
    with pytest.raises(CheckError, match="grader check FILE") as raised:
        check()
    assert raised.value._render_traceback_() == [f"grader: {raised.value.message}"]


def test_the_last_run_of_a_cell_wins_and_locations_are_execution_counts(bundled: Assignment) -> None:
    _, functions = reference(bundled, EX05)
    cells = (
        (1, "import torch\nfrom torch import nn\nfrom grader.jupyter import check"),
        (2, functions["apply_sigmoid"]),
        (4, NAIVE_SOFTMAX),
        (7, "x = torch.ones(3)\nprint(apply_sigmoid(x))"),
        (9, functions["apply_softmax"]),
        (10, "check()"),
    )
    submission = kernel_submission(Request(cells), bundled)
    assert submission.exercises == (EX05,) and submission.problems == ()
    counts = [count for count, _ in cells]
    assert kernel_location(submission.locations[(EX05, "apply_softmax")], counts).describe() == "In [9], line 1"
    module = submission.files[f"{EX05}.py"].decode()
    assert "jupyter" not in module and "check(" not in module and "print(" not in module
    assert module.rindex("torch.softmax") > module.index("torch.exp")  # the re-run comes last


def test_a_kernel_cell_stopped_in_the_sandbox_is_reported_by_its_execution_count(bundled: Assignment) -> None:
    # The kernel may have seaborn; the sandbox does not: the cell stops there, as it would in a fresh kernel.
    _, functions = reference(bundled, EX05)
    cells = ((3, "import torch\n" + functions["apply_sigmoid"]), (8, "import no_such_module_xyz\n" + NAIVE_SOFTMAX))
    submission = kernel_submission(Request(cells), bundled)
    stop = CellStop("kernel.ipynb", 2, 1, "ModuleNotFoundError: No module named 'no_such_module_xyz'")
    assert submission.location_after((EX05, "apply_softmax"), (stop,)) is None
    check = models.CheckResult(
        exercise=EX05,
        function="apply_sigmoid",
        name="values",
        outcome=Outcome.PASSED,
        points=1.0,
        max_points=1.0,
        description="",
        location=submission.locations[(EX05, "apply_sigmoid")],
    )
    problem = describe_stop(stop, submission.cut_off(stop))
    report = kernel_report(Report(student="notebook", checks=(check,), problems=(problem,)), Request(cells))
    assert report.checks[0].location is not None and report.checks[0].location.describe() == "In [3], line 2"
    assert report.problems[0].startswith("In [8], line 1: ModuleNotFoundError")
    assert "did not define apply_softmax (line 2)" in report.problems[0]


def test_what_a_request_grades(bundled: Assignment) -> None:
    _, functions = reference(bundled, EX05)
    submission = kernel_submission(Request(((1, functions["apply_sigmoid"]),)), bundled)
    assert select(Request(()), submission, bundled).exercises == (EX05,)
    job = select(Request((), function="apply_softmax"), submission, bundled)
    assert (job.exercises, job.functions) == ((EX05,), ("apply_softmax",))
    assert select(Request((), exercise="ex01_tensors"), submission, bundled).exercises == ("ex01_tensors",)
    from grader.errors import UsageError

    for request, words in (
        (Request((), function="softmax"), "not a function of the assignment"),
        (Request((), function="make_tensor"), "not defined in this kernel"),
        (Request((), exercise="ex99"), "no exercise 'ex99'"),
    ):
        with pytest.raises(UsageError, match=words):
            select(request, submission, bundled)
    empty = kernel_submission(Request(((1, "import torch"),)), bundled)
    with pytest.raises(UsageError, match="no function of the assignment is defined"):
        select(Request(()), empty, bundled)


def test_the_inline_result_is_escaped_html_and_plain_text() -> None:
    from grader.models import CheckResult as Result

    evil = "<script>alert(1)</script> \x1b[31m \u202e"
    report = Report(
        "this notebook",
        (
            Result(EX05, "apply_softmax", "big", Outcome.FAILED, 0, 1, message=evil, hint="subtract the max"),
            Result(EX05, "apply_sigmoid", "ok", Outcome.PASSED, 1, 1, output=evil),
        ),
        exercise_titles={EX05: "Activations"},
    )
    shown: Any = CheckResult(report)
    html, text = shown._repr_html_(), repr(shown)
    assert "<script>" not in html and "&lt;script&gt;" in html and "\\x1b[31m" in html and "\\u202e" in html
    assert "\x1b" not in text and "\u202e" not in text and "Hint: subtract the max" in text
    assert "Score: 1 / 2" in html and "subtract the max" in html
    assert (shown.score, shown.max_score, shown.percent) == (1, 2, 50.0)


def test_a_service_that_cannot_start_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import grader.jupyter

    class History:
        def __init__(self) -> None:
            self.input_hist_raw = ["", "def apply_sigmoid(x):\n    return x"]

    class Shell:
        history_manager = History()

    monkeypatch.setattr(grader.jupyter, "_shell", Shell)
    with pytest.raises(CheckError, match="is not an assignment folder"):
        check(assignment=tmp_path / "nowhere")
