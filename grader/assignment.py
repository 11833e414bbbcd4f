"""An assignment is a folder: ``assignment.toml``, ``exercises/``, ``solutions/``, ``checks/``.

The bundled PyTorch-fundamentals assignment is just the default folder.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import tomllib
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
    solution: Path
    checks: Path
    functions: tuple[str, ...]
    #: Function -> what it must return, from its stub's docstring, for messages.
    contracts: tuple[tuple[str, str], ...] = ()

    def contract(self, function: str) -> str:
        """What ``function`` must return, in the stub's words ("" if its docstring says nothing)."""
        return dict(self.contracts).get(function, "")


@dataclass(frozen=True)
class Assignment:
    root: Path
    title: str
    exercises: tuple[Exercise, ...]
    limits: Limits = field(default_factory=Limits)
    #: Check ids ("ex05_activations::check_name") hidden by the manifest.
    hidden: frozenset[str] = frozenset()

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

    def fingerprint(self) -> str:
        """Hash of everything that decides a grade: checks, solutions, manifest."""
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
    """The default assignment: packaged inside a wheel, or the repository root in a checkout."""
    package = Path(__file__).resolve().parent
    packaged = package / "_assignment"
    if (packaged / MANIFEST).is_file():
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
    )


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
    try:
        tree = ast.parse(stub.read_bytes(), filename=str(stub))
    except SyntaxError as exc:
        raise AssignmentError(f"{stub}, line {exc.lineno}: {exc.msg}") from None
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
