"""An assignment is a folder: ``assignment.toml``, ``exercises/``, ``solutions/``, ``checks/``.

The bundled PyTorch-fundamentals assignment is just the default folder.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from grader.errors import AssignmentError
from grader.sandbox.limits import Limits

MANIFEST = "assignment.toml"


@dataclass(frozen=True)
class Exercise:
    """One exercise module: its stub, reference solution, checks and functions."""

    name: str
    title: str
    stub: Path
    #: The reference solution; None in a student's copy, which holds its recorded answers instead.
    solution: Path | None
    checks: Path
    functions: tuple[str, ...]
    #: Function -> what it must return, from its stub's docstring, for messages.
    contracts: tuple[tuple[str, str], ...] = ()

    def contract(self, function: str) -> str:
        """What ``function`` must return, in the stub's words ("" if its docstring says nothing)."""
        return dict(self.contracts).get(function, "")


@dataclass(frozen=True)
class Answer:
    """One recorded reference call of a student's copy: its encoded value, or the builtin exception it raised."""

    #: ``codec.encode`` of the value (empty when it raised).
    value: bytes = b""
    #: The builtin exception's name and message, when the reference raised.
    raised: tuple[str, str] | None = None
    #: The call's CPU seconds on the teacher's machine, rounded up, when long enough to matter.
    seconds: float | None = None


@dataclass(frozen=True)
class HiddenCheck:
    """A hidden check as a student's copy lists it: its name and points, never its code."""

    exercise: str
    function: str
    name: str
    description: str
    points: float


@dataclass(frozen=True)
class StudentCopy:
    """What a student's copy of an assignment holds beyond its stubs and public checks."""

    #: The ``.grader`` file it was read from.
    path: Path
    #: The full assignment's fingerprint when the copy was written (``Assignment.fingerprint``).
    fingerprint: str
    #: Checks left to the teacher's grade: listed by name, never shipped.
    hidden: tuple[HiddenCheck, ...]
    #: Check id ("ex05_activations::check_name") -> request key -> the reference's recorded answer.
    answers: Mapping[str, Mapping[str, Answer]]
    #: The grader version that wrote it.
    written_by: str = ""

    def describe(self, title: str) -> str:
        return f"student copy of {title} (fingerprint {self.fingerprint[:12]})"

    def summary(self, title: str) -> str:
        """What this copy can judge, in a line for the student."""
        return (
            f"{self.describe(title)}: {len(self.answers)} checks judged here, "
            f"{len(self.hidden)} hidden checks run when your teacher grades"
        )


@dataclass(frozen=True)
class Assignment:
    root: Path
    title: str
    exercises: tuple[Exercise, ...]
    limits: Limits = field(default_factory=Limits)
    #: Check ids ("ex05_activations::check_name") hidden by the manifest.
    hidden: frozenset[str] = frozenset()
    #: Mixed into every check's seed (``plugin.check_seed``), so the teacher's grade draws inputs a
    #: student's copy cannot compute: the manifest's ``[grading] salt``, else a digest of the
    #: solutions. Empty in a student's copy, whose checks draw the public inputs it recorded.
    salt: str = ""
    #: Set when this is a student's copy (no solutions, no hidden checks): where its answers come from.
    copy: StudentCopy | None = None

    @property
    def checks_dir(self) -> Path:
        return self.root / "checks"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.exercises)

    def exercise(self, name: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.name == name:
                return exercise
        raise KeyError(name)

    def titles(self) -> dict[str, str]:
        return {e.name: e.title for e in self.exercises}

    def describe(self) -> str:
        """The assignment as reports name it: its title, and whether this is a student's copy."""
        return self.copy.describe(self.title) if self.copy is not None else self.title

    def fingerprint(self) -> str:
        """Hash of everything that decides a grade: checks, solutions, manifest.

        A student's copy answers with the fingerprint of the assignment it was written from.
        """
        if self.copy is not None:
            return self.copy.fingerprint
        digest = hashlib.sha256()
        for path in sorted(self._graded_files()):
            digest.update(str(path.relative_to(self.root)).encode() + b"\0" + path.read_bytes() + b"\0")
        return digest.hexdigest()

    def _graded_files(self) -> list[Path]:
        files = [self.root / MANIFEST]
        for folder in ("checks", "solutions"):
            files += [p for p in (self.root / folder).rglob("*.py") if "__pycache__" not in p.parts]
        return files


def import_file(path: Path, name: str) -> ModuleType:
    """Import an assignment's Python file (a solution, a checks file) under a private module name."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AssignmentError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bundled_assignment_path() -> Path:
    """Where the bundled assignment is: the repository root in a checkout (the full assignment), or the
    installed package's ``_assignment`` folder, which holds only the bundled assignment's student copy."""
    package = Path(__file__).resolve().parent
    packaged = package / "_assignment"
    if packaged.is_dir():
        return packaged
    return package.parent


def load_assignment(path: Path | None = None) -> Assignment:
    """Read and validate an assignment folder (the bundled one by default)."""
    root = (path or bundled_assignment_path()).resolve()
    manifest = root / MANIFEST
    if not manifest.is_file():
        raise AssignmentError(f"{root} is not an assignment folder: {MANIFEST} is missing")
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AssignmentError(f"{manifest}: {exc}") from None
    meta = data.get("assignment", {})
    names = meta.get("exercises")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise AssignmentError(f"{manifest}: [assignment] exercises must be a non-empty list of module names")
    limits = _limits(data.get("limits", {}), manifest)
    exercises = tuple(_exercise(root, name) for name in names)
    hidden = meta.get("hidden", [])
    if not isinstance(hidden, list) or not all(isinstance(h, str) for h in hidden):
        raise AssignmentError(f"{manifest}: [assignment] hidden must be a list of 'exercise::check' ids")
    return Assignment(
        root=root,
        title=str(meta.get("title", root.name)),
        exercises=exercises,
        limits=limits,
        hidden=frozenset(hidden),
        salt=_salt(data.get("grading", {}), manifest, exercises),
    )


def _salt(table: object, manifest: Path, exercises: tuple[Exercise, ...]) -> str:
    """The grading salt: the manifest's ``[grading] salt``, else a digest of the reference solutions.

    Either way it is secret wherever the solutions are: a student's copy holds neither.
    """
    if not isinstance(table, dict) or not set(table) <= {"salt"}:
        raise AssignmentError(f'{manifest}: [grading] may only set salt = "..."')
    salt = table.get("salt")
    if salt is not None:
        if not isinstance(salt, str) or len(salt) < 8:
            raise AssignmentError(f"{manifest}: [grading] salt must be a string of at least 8 characters")
        return salt
    digest = hashlib.sha256(b"grader-salt\0")
    for exercise in exercises:
        if exercise.solution is not None:
            digest.update(exercise.solution.read_bytes() + b"\0")
    return digest.hexdigest()


def _limits(table: object, manifest: Path) -> Limits:
    if not isinstance(table, dict):
        raise AssignmentError(f"{manifest}: [limits] must be a table")
    known = set(Limits.__dataclass_fields__)
    unknown = set(table) - known
    if unknown:
        raise AssignmentError(f"{manifest}: unknown limit(s) {sorted(unknown)}; known: {sorted(known)}")
    try:
        return Limits.from_dict(dict(table))
    except (TypeError, ValueError) as exc:
        raise AssignmentError(f"{manifest}: bad [limits]: {exc}") from None


def _exercise(root: Path, name: str) -> Exercise:
    stub = root / "exercises" / f"{name}.py"
    solution = root / "solutions" / f"{name}.py"
    checks = root / "checks" / f"check_{name}.py"
    for path, what in ((stub, "stub"), (solution, "reference solution"), (checks, "checks file")):
        if not path.is_file():
            raise AssignmentError(f"exercise {name}: the {what} {path} is missing")
    return read_exercise(name, stub=stub, solution=solution, checks=checks)


def read_exercise(name: str, *, stub: Path, solution: Path | None, checks: Path) -> Exercise:
    """An exercise as its stub declares it: its functions, title and contracts (a student's copy has no solution)."""
    try:
        tree = ast.parse(stub.read_bytes(), filename=str(stub))
    except SyntaxError as exc:
        raise AssignmentError(f"{stub}, line {exc.lineno}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise AssignmentError(f"{stub}: the stub cannot be read ({type(exc).__name__})") from None
    defined = [node for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    functions = tuple(node.name for node in defined)
    doc = ast.get_docstring(tree) or name
    return Exercise(
        name=name,
        title=doc.strip().splitlines()[0].rstrip("."),
        stub=stub,
        solution=solution,
        checks=checks,
        functions=functions,
        contracts=tuple((node.name, _contract(ast.get_docstring(node) or "")) for node in defined),
    )


def _contract(doc: str) -> str:
    """The docstring's summary and its "Contract:" paragraph, as one line of plain text."""
    paragraphs = [" ".join(p.split()) for p in doc.split("\n\n")]
    summary = paragraphs[0] if paragraphs else ""
    said = next((p[p.index("Contract:") + len("Contract:") :].strip() for p in paragraphs if "Contract:" in p), "")
    text = f"{summary.rstrip('.')}; {said}" if said else summary
    return text.replace("``", "").replace("**", "")[:400]
