"""``grader assign``: the student hand-out: stub files, teaching notebooks, and the student copy."""

from __future__ import annotations

from pathlib import Path

from grader.assignment import Assignment
from grader.notebook import handout_notebook
from grader.output import write_atomic
from grader.recording import CopyRecording, write_student_copy


def write_handout(assignment: Assignment, out_dir: Path) -> tuple[list[Path], CopyRecording]:
    """Write each exercise's stub and notebook into ``out_dir``, then the student copy (``assignment.grader``).

    Everything written is what a student may hold: the stubs, notebooks whose
    check cell finds the copy beside them, and the copy itself (public checks
    and recorded reference answers, never a solution or a hidden check).
    """
    written = []
    for exercise in assignment.exercises:
        stub = exercise.stub.read_text(encoding="utf-8")
        py = out_dir / f"{exercise.name}.py"
        notebook = out_dir / f"{exercise.name}.ipynb"
        write_atomic(py, stub)
        write_atomic(notebook, handout_notebook(stub, module=exercise.name))
        written += [py, notebook]
    copy, recorded = write_student_copy(assignment, out_dir)
    return [*written, copy], recorded
