"""Jupyter notebooks: reading submissions, grading them, and the ``grader assign`` hand-out notebooks.

Unit tests of ``notebook_to_source`` run no sandbox; the ``slow`` ones grade
real notebooks through the shared ``bundled_grader`` and execute the
hand-out notebooks in a real Jupyter kernel.
"""

from __future__ import annotations

import ast
import asyncio
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.assignment import Assignment
from grader.grading import Grader, exercises_to_check
from grader.handout import write_handout
from grader.models import Outcome, Report
from grader.notebook import MAX_WRITES_CHARS, NotebookError, check_cell, notebook_to_source
from grader.sandbox import cells
from grader.sandbox.cells import MAX_WRITE_BYTES
from grader.submission import build_submission, load_submission

ATTACKS = Path(__file__).parent / "attacks"
EX05 = "ex05_activations"


def notebook(*cells: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(new_notebook(cells=list(cells))).encode()


def code(*sources: str) -> bytes:
    return notebook(*(new_code_cell(s) for s in sources))


def convert(raw: bytes) -> tuple[str, tuple[str, ...]]:
    result = notebook_to_source(raw, name="work.ipynb")
    compile(result.source, "work.ipynb", "exec")  # always valid Python for the worker
    return result.source, result.notes


def run(source: str) -> dict[str, object]:
    return run_cells(source)[0]


def run_cells(source: str) -> tuple[dict[str, object], list[list[object]]]:
    """The module's namespace once run here, and the cells it reports stopped: [file, cell, line, error]."""
    cells.take()
    namespace: dict[str, object] = {}
    exec(compile(source, "work.ipynb", "exec"), namespace)
    return namespace, cells.take()


# -- notebook_to_source: IPython syntax -------------------------------------------------------


def test_line_magics_shell_and_help_lines_become_harmless() -> None:
    source, notes = convert(
        code(
            "%matplotlib inline\n!pip install x\nimport math\ntorch.sigmoid?\n??math.exp\nfiles = !ls\n"
            "def f(x):\n    return math.exp(x)"
        )
    )
    assert notes == ()
    assert run(source)["f"](0) == 1.0  # type: ignore[operator]


def test_magic_inside_a_function_body_keeps_the_function() -> None:
    source, _ = convert(code("def f():\n    %time y = 1\n    return 2"))
    assert run(source)["f"]() == 2  # type: ignore[operator]


def test_question_mark_in_a_comment_or_string_is_not_a_help_line() -> None:
    # A trailing "# right?" once turned the return line into ``pass``: a false fail.
    cell = 'def f(x):\n    return x + 1  # right?\n\nTEXT = """\n!not a shell line\n%not a magic\n"""'
    source, notes = convert(code(cell))
    namespace = run(source)
    assert namespace["f"](1) == 2  # type: ignore[operator]
    assert namespace["TEXT"] == "\n!not a shell line\n%not a magic\n"
    assert notes == ()


def test_python_cell_magic_time_keeps_its_definitions() -> None:
    source, notes = convert(code("%%time\ndef f():\n    return 3\nprint(f())"))
    assert run(source)["f"]() == 3  # type: ignore[operator]
    assert any("cell 1" in n and "not run" in n for n in notes)


def test_non_python_cell_magic_is_skipped_with_a_note() -> None:
    source, notes = convert(code("%%bash\necho hi\ndef nope", "def f():\n    return 1"))
    assert "f" in run(source)
    assert notes == ("cell 1 skipped: it is a %%bash cell magic, not Python",)


def test_syntax_error_cell_is_noted_and_other_cells_kept() -> None:
    raw = notebook(
        new_markdown_cell("# Work"), new_code_cell("def broken(:\n    pass"), new_code_cell("def ok():\n    return 1")
    )
    source, notes = convert(raw)
    namespace = run(source)
    assert "ok" in namespace and "broken" not in namespace
    assert len(notes) == 1 and notes[0].startswith("cell 2 skipped: syntax error at line 1")


# -- notebook_to_source: what runs and what is skipped -----------------------------------------


def test_top_level_print_plot_and_training_loop_are_skipped_with_the_cell_number() -> None:
    raw = notebook(
        new_markdown_cell("intro"),
        new_code_cell("import torch\ndef f(x):\n    return x * 2"),
        new_markdown_cell("try it"),
        new_code_cell("print(f(3))\nplt.plot([1, 2])\nfor epoch in range(10**9):\n    raise SystemExit"),
    )
    source, notes = convert(raw)
    assert run(source)["f"](3) == 6  # type: ignore[operator]
    assert len(notes) == 1
    assert notes[0].startswith("cell 4: top-level code at line(s) 1, 2, 3 was not run")


def test_a_failing_statement_stops_its_cell_and_the_next_cell_goes_on() -> None:
    source, notes = convert(
        code(
            "B = 2\na = 1 / 0\ndef f():\n    return 1",
            "import no_such_module_xyz\nC = 3",
            "from nowhere import thing",
            "def g():\n    return B",
        )
    )
    namespace, stopped = run_cells(source)
    assert namespace["g"]() == 2  # type: ignore[operator]
    assert namespace["B"] == 2 and not {"a", "f", "C", "thing"} & set(namespace)
    assert notes == ()
    assert [stop[:3] for stop in stopped] == [["work.ipynb", 1, 2], ["work.ipynb", 2, 1], ["work.ipynb", 3, 1]]
    assert stopped[0][3] == "ZeroDivisionError: division by zero"
    assert str(stopped[1][3]).startswith("ModuleNotFoundError: No module named 'no_such_module_xyz'")


def test_a_redefinition_in_a_cell_that_stops_before_it_does_not_replace_the_earlier_one() -> None:
    # The student's kernel never ran past ``import seaborn``: the cell's second f never existed there.
    source, _ = convert(code("def f():\n    return 1", "import no_such_module_xyz\ndef f():\n    return 2"))
    namespace, stopped = run_cells(source)
    assert namespace["f"]() == 1  # type: ignore[operator]
    assert [stop[:3] for stop in stopped] == [["work.ipynb", 2, 1]]


def test_a_stopped_cell_is_located_at_its_innermost_failing_line_and_runs_again_alike() -> None:
    source, _ = convert(code("x = 1", "class Settings:\n    name = 'a'\n    size = int('big')\nY = 2"))
    for _ in range(2):  # the same module run twice (one import per exercise) reports the same cell
        namespace, stopped = run_cells(source)
        assert "Settings" not in namespace and "Y" not in namespace
        assert stopped == [["work.ipynb", 2, 3, "ValueError: invalid literal for int() with base 10: 'big'"]]


def test_code_that_is_not_run_counts_as_run_without_error_and_keeps_its_lines() -> None:
    # print(...) is skipped, not run: the definitions after it on its line and below it still run.
    cell = (
        "import math; print(undefined_name)\nx = (1,\n     2); print(x)\nprint(x,\n      3); y = 4\n"
        "def f():\n    return x, y"
    )
    source, notes = convert(code(cell))
    namespace, stopped = run_cells(source)
    assert namespace["f"]() == ((1, 2), 4) and stopped == []  # type: ignore[operator]
    assert len(notes) == 1 and notes[0].startswith("cell 1: top-level code at line(s) 1, 3, 4 was not run")
    result = notebook_to_source(code("print(1)\n\ndef f():\n    return 1 / 0"), name="work.ipynb")
    line = result.source.splitlines().index("        return 1 / 0") + 1
    assert result.locate(line) == (1, 4)  # a module line maps back to its cell's line


def test_writefile_cells_become_writes_in_place_and_unsafe_paths_are_refused() -> None:
    source, notes = convert(
        code(
            "%%writefile helper.py\ndef twice(x):\n    return 2 * x",
            "%%writefile -a helper.py\nTHREE = 3",
            "%%writefile '/etc/hostname'\nx",
            "%%writefile ../outside.py\nx",
            "%%writefile ~/home.py\nx",
            "%%writefile sub/../../up.py\nx",
            f"%%writefile big.txt\n{'x' * (MAX_WRITE_BYTES + 1)}",
            "%%writefile\nx",
        )
    )
    tree = ast.parse(source)
    writes = [
        [ast.literal_eval(a) for a in node.args]
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "_grader_cells.write_file"
    ]
    assert writes == [
        ["helper.py", "def twice(x):\n    return 2 * x\n"],
        ["helper.py", "def twice(x):\n    return 2 * x\nTHREE = 3\n"],
    ]
    assert [n.split(":")[0] for n in notes] == [f"cell {i}" for i in (3, 4, 5, 6, 7)] + ["cell 8 skipped"]
    assert "not one starting with '/' or '~'" in notes[0] and "no '..'" in notes[1] and "KiB" in notes[4]
    many = [f"%%writefile log.txt\n{'x' * (MAX_WRITE_BYTES - 100)}" for _ in range(9)]
    source_of_many, notes_of_many = convert(code(*many))
    assert len(source_of_many) < MAX_WRITES_CHARS + 10_000  # each write carries the file whole: bounded in all
    assert any("write over" in note for note in notes_of_many) and not any("KiB" in n for n in notes_of_many)
    _, stopped = run_cells(source)  # outside a sandbox, no file is written: the cell stops instead
    assert [stop[1] for stop in stopped] == [1, 2]
    assert "only in the grader's sandbox" in str(stopped[0][3])


def test_assignment_calling_the_notebooks_own_function_is_not_run() -> None:
    # ``losses = train(...)`` would run the student's experiment (and may time out) at import.
    source, notes = convert(code("def train():\n    raise SystemExit\n", "losses = train()\nLR = 0.1"))
    namespace = run(source)
    assert "losses" not in namespace and namespace["LR"] == 0.1
    assert len(notes) == 1 and notes[0].startswith("cell 2: top-level code at line(s) 1 ")


def test_redefinition_last_definition_wins() -> None:
    source, _ = convert(code("def f():\n    return 1", "def f():\n    return 2"))
    assert run(source)["f"]() == 2  # type: ignore[operator]


def test_definition_only_if_and_try_blocks_are_kept_guarded() -> None:
    cells = (
        "if True:\n    def f():\n        return 1",
        "try:\n    import no_such_module_xyz as np_\nexcept ImportError:\n    np_ = None",
        "if 1 / 0:\n    def g():\n        return 1",  # the test fails: guarded, nothing else lost
        "if True:\n    print('side effect')\n    def h():\n        return 1",  # runs code: skipped
    )
    source, notes = convert(code(*cells))
    namespace = run(source)
    assert namespace["f"]() == 1  # type: ignore[operator]
    assert namespace["np_"] is None
    assert "g" not in namespace and "h" not in namespace
    assert len(notes) == 1 and notes[0].startswith("cell 4: ")


def test_markdown_only_and_empty_notebooks_give_an_empty_module() -> None:
    for raw in (notebook(new_markdown_cell("# Notes\n\nnothing here")), notebook(), code("", "   \n")):
        source, notes = convert(raw)
        assert source.strip() == "" and notes == ()


def test_outputs_and_execution_counts_are_ignored() -> None:
    cell = new_code_cell("def f():\n    return 1\nf()", execution_count=7)
    cell.outputs = [new_output("execute_result", data={"text/plain": "1"}, execution_count=7)]
    source, _ = convert(notebook(cell))
    assert run(source)["f"]() == 1  # type: ignore[operator]
    assert "text/plain" not in source


def test_nbformat_v3_is_converted() -> None:
    v3 = nbformat.v3
    old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[v3.new_code_cell(input="def f():\n    return 3")])])
    source, _ = convert(nbformat.writes(old, version=3).encode())
    assert run(source)["f"]() == 3  # type: ignore[operator]


def test_hand_written_v4_without_cell_metadata_or_ids_is_read() -> None:
    data = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"cell_type": "code", "source": ["def f():\n", "    return 4"]}],
    }
    source, _ = convert(json.dumps(data).encode())
    assert run(source)["f"]() == 4  # type: ignore[operator]


def test_utf8_bom_is_accepted() -> None:
    source, _ = convert(b"\xef\xbb\xbf" + code("def f():\n    return 5"))
    assert run(source)["f"]() == 5  # type: ignore[operator]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"cells": [{"cell_type": "code", "source": "import torch\\ndef apply_sig', "the JSON is broken at line 1"),
        (b"", "the JSON is broken"),
        (b'{"hello": "world"}', "not a notebook: the JSON has no 'cells'"),
        (b"[1, 2, 3]", "not a notebook: the JSON has no 'cells'"),
        (b'{"cells": []}', "no 'nbformat' version"),
        (b'{"cells": "oops", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a valid notebook"),
        ("# -*- coding: latin-1 -*-\ndef f(): return 'é'".encode("latin-1"), "not UTF-8"),
    ],
)
def test_unreadable_notebooks_are_rejected_clearly(raw: bytes, message: str) -> None:
    with pytest.raises(NotebookError, match=message):
        notebook_to_source(raw, name="work.ipynb")


def test_truncated_attack_notebook_is_rejected(bundled: Assignment) -> None:
    path = ATTACKS / "b08_notebook_invalid" / "submission.ipynb"
    with pytest.raises(NotebookError, match=r"not a valid notebook: the JSON is broken .*cut short"):
        notebook_to_source(path.read_bytes(), name=path.name)
    submission = load_submission(path.parent, bundled)
    assert submission.exercises == ()
    assert len(submission.problems) == 1 and submission.problems[0].startswith("submission.ipynb: not a valid notebook")


def test_notebook_assignment_alias_is_found_and_located(bundled: Assignment) -> None:
    raw = notebook(new_markdown_cell("x"), new_code_cell("import torch\napply_sigmoid = torch.sigmoid"))
    submission = build_submission({"work.ipynb": raw}, bundled, name="s")
    assert submission.exercises == (EX05,)
    location = submission.locations[(EX05, "apply_sigmoid")]
    assert (location.file, location.cell, location.line) == ("work.ipynb", 2, 2)


# -- grading real notebook submissions -------------------------------------------------------


def reference_functions(assignment: Assignment, exercise: str) -> dict[str, str]:
    """Function name -> its source in the reference solution."""
    text = assignment.exercise(exercise).solution.read_text()
    tree = ast.parse(text)
    return {n.name: ast.get_source_segment(text, n) or "" for n in tree.body if isinstance(n, ast.FunctionDef)}


def reference_imports(assignment: Assignment, exercise: str) -> str:
    text = assignment.exercise(exercise).solution.read_text()
    tree = ast.parse(text)
    return "\n".join(
        ast.get_source_segment(text, n) or "" for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
    )


def messy_ex05(assignment: Assignment, *, wrong: str | None = None) -> tuple[bytes, dict[str, int]]:
    """The ex05 reference pasted into a notebook with magics, outputs, a failing plot and a print."""
    functions = reference_functions(assignment, EX05)
    if wrong:
        functions[wrong] = functions[wrong].replace("torch.softmax(x, dim=dim)", "torch.softmax(x, dim=0)")
    cells = [
        new_markdown_cell("# Activations"),
        new_code_cell("%matplotlib inline\n!pip install torch\nimport torch\nfrom torch import nn\ntorch.sigmoid?"),
    ]
    where: dict[str, int] = {}
    for name, source in functions.items():
        cell = new_code_cell(source, execution_count=len(cells))
        cell.outputs = [new_output("stream", name="stdout", text="ok\n")]
        cells += [new_markdown_cell(f"## {name}"), cell]
        where[name] = len(cells)
    cells.append(new_code_cell("import matplotlib.pyplot as plt\nplt.plot(apply_sigmoid(torch.linspace(-5, 5, 50)))"))
    cells.append(new_code_cell("%%time\nprint(apply_softmax(torch.randn(3), dim=0))"))
    return notebook(*cells), where


@pytest.mark.slow
def test_messy_notebook_with_every_reference_function_passes(
    bundled: Assignment, bundled_grader: Grader, tmp_path: Path
) -> None:
    raw, _ = messy_ex05(bundled)
    path = tmp_path / "alice.ipynb"
    path.write_bytes(raw)
    submission = load_submission(path, bundled)
    assert submission.exercises == (EX05,)
    report = bundled_grader.grade(submission, exercises=exercises_to_check(submission, bundled))
    assert report.checks and all(c.outcome is Outcome.PASSED for c in report.checks), [c.message for c in report.checks]
    assert report.percent == 100.0
    plot_cell = 2 + 2 * len(reference_functions(bundled, EX05)) + 1
    assert any(p.startswith(f"alice.ipynb: cell {plot_cell}: top-level code") for p in report.problems), report.problems
    assert any(p.startswith(f"alice.ipynb: cell {plot_cell + 1}: top-level code") for p in report.problems)


@pytest.mark.slow
def test_one_wrong_function_fails_alone_and_points_at_its_cell(
    bundled: Assignment, bundled_grader: Grader, tmp_path: Path
) -> None:
    raw, where = messy_ex05(bundled, wrong="apply_softmax")
    path = tmp_path / "bob.ipynb"
    path.write_bytes(raw)
    report = bundled_grader.grade(load_submission(path, bundled), exercises=[EX05])
    failed = [c for c in report.checks if not c.outcome.ok]
    assert failed and {c.function for c in failed} == {"apply_softmax"}
    assert all(c.outcome.ok for c in report.checks if c.function != "apply_softmax")
    for check in failed:
        assert check.location is not None
        assert (check.location.file, check.location.cell, check.location.line) == (
            "bob.ipynb",
            where["apply_softmax"],
            1,
        )
        assert "cell" in check.location.describe()


@pytest.mark.slow
def test_invalid_notebook_scores_zero_with_a_readable_problem(
    bundled: Assignment, bundled_grader: Grader, tmp_path: Path
) -> None:
    folder = tmp_path / "b08"
    shutil.copytree(ATTACKS / "b08_notebook_invalid", folder)
    submission = load_submission(folder, bundled)
    assert submission.exercises == () and submission.problems
    report = bundled_grader.grade(submission, exercises=exercises_to_check(submission, bundled))
    assert report.checks and report.score == 0
    assert {c.exercise for c in report.checks} == set(bundled.names)
    assert all(c.outcome is Outcome.NOT_ATTEMPTED for c in report.checks)
    assert any("not a valid notebook" in p and "cut short" in p for p in report.problems)


@pytest.mark.slow
def test_notebook_beside_a_py_file_in_a_student_folder(
    bundled: Assignment, bundled_grader: Grader, tmp_path: Path
) -> None:
    folder = tmp_path / "carol"
    folder.mkdir()
    shutil.copy(bundled.exercise("ex01_tensors").solution, folder / "ex01_tensors.py")
    (folder / "activations.ipynb").write_bytes(messy_ex05(bundled)[0])
    submission = load_submission(folder, bundled)
    assert submission.name == "carol"
    assert submission.exercises == ("ex01_tensors", EX05)
    assert submission.locations[(EX05, "apply_sigmoid")].file == "activations.ipynb"
    report = bundled_grader.grade(submission, exercises=exercises_to_check(submission, bundled))
    assert report.percent == 100.0, [(c.id, c.message) for c in report.checks if not c.outcome.ok]


# -- grader assign: the hand-out notebooks ---------------------------------------------------


async def _execute_all(notebooks: list[nbformat.NotebookNode], folder: Path, client: Callable[..., Any]) -> None:
    clients = [client(nb, cwd=folder, timeout=120) for nb in notebooks]
    await asyncio.gather(*(client.async_execute() for client in clients))


def paste_reference(nb: nbformat.NotebookNode, assignment: Assignment, exercise: str) -> int:
    """Replace every stub cell's source with the reference function; returns how many were pasted."""
    functions = reference_functions(assignment, exercise)
    pasted = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source) if not cell.source.lstrip().startswith("!") else None
        if tree is None:
            continue
        defined = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
        if defined:
            cell.source = "\n\n".join(functions[name] for name in defined)
            pasted += len(defined)
        elif all(isinstance(n, ast.Import | ast.ImportFrom) for n in tree.body):
            cell.source = reference_imports(assignment, exercise)  # the reference may import more
    return pasted


@pytest.mark.slow
def test_handout_notebooks_validate_execute_and_grade_0_then_100(
    bundled: Assignment, bundled_grader: Grader, tmp_path: Path, notebook_client: Callable[..., Any]
) -> None:
    handout = tmp_path / "handout"
    handout.mkdir()
    written, _ = write_handout(bundled, handout)
    paths = [p for p in written if p.suffix == ".ipynb"]
    assert [p.stem for p in paths] == list(bundled.names)
    notebooks = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.nbformat == 4
        assert nb.cells[0].cell_type == "markdown" and nb.cells[-1].source == check_cell(path.stem)
        assert nb.metadata["grader"] == {"exercise": path.stem}
        notebooks.append(nb)

    asyncio.run(_execute_all(notebooks, handout, notebook_client))  # the last cells really check the kernel's functions
    for path, nb in zip(paths, notebooks, strict=True):
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert errors == [], (path.name, errors)
        (shown,) = [o for o in nb.cells[-1].outputs if o.output_type == "execute_result"]
        html, plain = shown.data["text/html"], shown.data["text/plain"]
        assert "Score: 0 / " in html and "Not attempted yet" in html, html
        assert "Report for PyTorch fundamentals" in plain and "Not attempted in" in plain, plain
        assert "\x1b" not in plain

    # As handed out (executed, with outputs): every check not attempted, score 0.
    submitted = tmp_path / "as_handed_out"
    submitted.mkdir()
    for path, nb in zip(paths, notebooks, strict=True):
        nbformat.write(nb, submitted / path.name)
    submission = load_submission(submitted, bundled)
    assert submission.exercises == bundled.names
    report = bundled_grader.grade(submission, exercises=exercises_to_check(submission, bundled))
    assert report.checks and report.score == 0
    assert {c.outcome for c in report.checks} == {Outcome.NOT_ATTEMPTED}

    # The reference bodies pasted into the stub cells: full marks.
    solved = tmp_path / "solved"
    solved.mkdir()
    for path, nb in zip(paths, notebooks, strict=True):
        assert paste_reference(nb, bundled, path.stem) == len(bundled.exercise(path.stem).functions)
        nbformat.validate(nb)
        nbformat.write(nb, solved / path.name)
    report = bundled_grader.grade(load_submission(solved, bundled), exercises=bundled.names)
    assert report.percent == 100.0, [(c.id, c.message) for c in report.checks if not c.outcome.ok]
    assert not any("syntax error" in p for p in report.problems)


def test_the_check_cell_is_never_part_of_the_submission() -> None:
    source, notes = convert(
        code(
            "import math\ndef f(x):\n    return math.exp(x)",
            check_cell(EX05),
            "import grader.jupyter as gj\ngj.check('f')",
            "from grader.jupyter import check as grade_me\ngrade_me()\nprint(f(1))",
        )
    )
    assert "jupyter" not in source and "check" not in source
    assert run(source)["f"] is not None
    assert len(notes) == 1 and "cell 4" in notes[0]  # only the print, a student's own top-level code


def test_a_handouts_check_cell_names_no_folder() -> None:
    """It finds the student copy beside the notebook: no path of the teacher's machine is written into a hand-out."""
    cell = check_cell("lx01_losses")
    assert cell == "from grader.jupyter import check\n\ncheck(exercise='lx01_losses')"
    compile(cell, "cell", "exec")


# -- Run All in the sandbox: cells that stop, %%writefile, a notebook graded like a file ---------------

DOUBLE = "def double(x):\n    return 2 * x"
SHOUT = "def shout(text):\n    return text.upper() + '!'"


def grade_cells(grader: Grader, assignment: Assignment, *sources: str) -> Report:
    submission = build_submission({"work.ipynb": code(*sources)}, assignment, name="nb")
    return grader.grade(submission)


def verdicts(report: Report) -> dict[str, tuple[Outcome, str]]:
    return {c.id: (c.outcome, c.message) for c in report.checks}


@pytest.mark.slow
def test_a_cell_stopped_mid_way_keeps_the_earlier_definition_and_says_where(
    tiny: Assignment, tiny_grader: Grader
) -> None:
    wrong_after_a_failing_import = "import no_such_module_xyz\ndef double(x):\n    return 3 * x"
    report = grade_cells(tiny_grader, tiny, f"{DOUBLE}\n{SHOUT}", wrong_after_a_failing_import)
    assert report.percent == 100.0, verdicts(report)
    double = next(c for c in report.checks if c.function == "double")
    assert double.location is not None and double.location.describe() == "work.ipynb, cell 1, line 1"
    (stop,) = [p for p in report.problems if "stopped" in p]
    assert stop.startswith("work.ipynb, cell 2, line 1: ModuleNotFoundError: No module named 'no_such_module_xyz'")
    assert stop.endswith("so this cell did not define double (line 2)")


@pytest.mark.slow
def test_a_redefinition_after_a_cell_that_fails_at_input_is_graded(tiny: Assignment, tiny_grader: Grader) -> None:
    report = grade_cells(
        tiny_grader,
        tiny,
        "def double(x):\n    return x",
        "name = input('Your name? ')\nprint('Hello', name)",
        "class Settings:\n    user = input('Your name? ')",  # a class body runs: this failed the whole module
        DOUBLE,
        SHOUT,
    )
    assert report.percent == 100.0, verdicts(report)
    double = next(c for c in report.checks if c.function == "double")
    assert double.location is not None and double.location.cell == 4
    stops = [p for p in report.problems if "EOFError" in p]
    assert [p.split(":")[0] for p in stops] == ["work.ipynb, cell 2, line 1", "work.ipynb, cell 3, line 2"], stops


@pytest.mark.slow
def test_a_helper_written_with_writefile_is_imported_and_read_by_later_cells(
    tiny: Assignment, tiny_grader: Grader
) -> None:
    report = grade_cells(
        tiny_grader,
        tiny,
        "%%writefile helper.py\ndef twice(x):\n    return 2 * x",
        "%%writefile data/suffix.txt\n!",
        "import helper\nSUFFIX = open('data/suffix.txt').read().strip()",
        "def double(x):\n    return helper.twice(x)\ndef shout(text):\n    return text.upper() + SUFFIX",
    )
    assert report.percent == 100.0, (verdicts(report), report.problems)
    assert report.problems == ()


@pytest.mark.slow
def test_writefile_never_writes_outside_the_sandbox_scratch_folder(
    tiny: Assignment, tiny_grader: Grader, tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    report = grade_cells(
        tiny_grader,
        tiny,
        f"import os\nlinked = os.symlink({str(target)!r}, 'link')",
        "%%writefile link/evil.py\nX = 1",
        f"%%writefile {target / 'absolute.py'}\nX = 1",
        "%%writefile ../../escape.py\nX = 1",
        f"{DOUBLE}\n{SHOUT}",
    )
    assert report.percent == 100.0, verdicts(report)
    assert list(target.iterdir()) == []
    problems = "\n".join(report.problems)
    assert "cell 3: %%writefile" in problems and "cell 4: %%writefile" in problems  # refused before running
    # A link out of scratch: refused by the sandbox when it is made, or by the write through it.
    assert "cell 1, line 2" in problems or "cell 2, line 1: PermissionError" in problems, problems


def test_write_file_stays_inside_the_scratch_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch, outside = tmp_path / "scratch", tmp_path / "outside"
    scratch.mkdir()
    outside.mkdir()
    (scratch / "link").symlink_to(outside)
    monkeypatch.setattr(cells, "_scratch", [])
    monkeypatch.chdir(scratch)
    cells.configure(str(scratch))
    cells.write_file("sub/helper.py", "X = 1\n")
    assert (scratch / "sub" / "helper.py").read_text() == "X = 1\n"
    for path in ("../escape.py", str(outside / "absolute.py"), "link/through.py", "sub/../../up.py"):
        with pytest.raises(PermissionError, match="only a file inside"):
            cells.write_file(path, "X = 1\n")
    with pytest.raises(OSError, match="limit"):
        cells.write_file("big.txt", "x" * (MAX_WRITE_BYTES + 1))
    assert list(outside.iterdir()) == [] and not (tmp_path / "escape.py").exists()


@pytest.mark.slow
def test_an_exercise_file_and_the_same_code_as_a_notebook_are_graded_alike(
    tiny: Assignment, tiny_grader: Grader
) -> None:
    wrong_shout = "def shout(text):\n    return text.upper()"
    for double, shout in ((DOUBLE, SHOUT), (DOUBLE, wrong_shout), ("def double(x):\n    return x + 1", SHOUT)):
        as_file = build_submission({"ex_tiny.py": f"import torch\n\n{double}\n\n{shout}\n".encode()}, tiny, name="f")
        file_report = tiny_grader.grade(as_file)
        cells_ = ("import torch", double, "print(double(torch.ones(2)))", shout, "shout('hi')")
        notebook_report = grade_cells(tiny_grader, tiny, *cells_)
        assert verdicts(notebook_report) == verdicts(file_report)
        assert notebook_report.score == file_report.score
