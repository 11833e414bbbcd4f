"""``grader assign``: the student hand-out, as stub files and as notebooks."""

from __future__ import annotations

from pathlib import Path

from grader.assignment import Assignment, bundled_assignment_path
from grader.notebook import handout_notebook
from grader.output import write_atomic


def write_handout(assignment: Assignment, out_dir: Path) -> list[Path]:
    """Write each exercise's stub ``.py`` and its teaching notebook ``.ipynb`` into ``out_dir``."""
    written = []
    # The notebooks' check cell names the assignment folder unless it is the bundled one.
    custom = None if assignment.root == bundled_assignment_path().resolve() else str(assignment.root)
    for exercise in assignment.exercises:
        stub = exercise.stub.read_text(encoding="utf-8")
        py = out_dir / f"{exercise.name}.py"
        notebook = out_dir / f"{exercise.name}.ipynb"
        write_atomic(py, stub)
        write_atomic(notebook, handout_notebook(stub, module=exercise.name, assignment=custom))
        written += [py, notebook]
    return written
