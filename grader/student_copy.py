"""A student's copy of an assignment: one ``assignment.grader`` file, handed out with the stubs.

It holds what a student needs to check their work and nothing of the
answer key: the stubs, the public checks (hidden checks' code removed, their
names kept), the reference's recorded answers to the requests those checks
make (``grader.reference``), the limits, and the fingerprint of the full
assignment it was written from. It is a zip (one file to hand out, readable
by any tool) of a fixed layout, versioned by ``FORMAT``/``VERSION``:

- ``manifest.json``: format, version, title, fingerprint, exercises, limits,
  hidden checks, the grader version that wrote it;
- ``exercises/<exercise>.py``: the stubs;
- ``checks/check_<exercise>.py``: the public checks;
- ``answers/<exercise>.json``: check id -> request key -> recorded answer.

The copy is written by the teacher's ``grader assign`` (``grader.recording``)
and read here, without torch, wherever a student checks their work. It is
read with bounds on every count and size, like every file a student hands
the grader.
"""

from __future__ import annotations

import ast
import atexit
import base64
import contextlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from grader.assignment import (
    MANIFEST,
    Answer,
    Assignment,
    HiddenCheck,
    StudentCopy,
    bundled_assignment_path,
    load_assignment,
    read_exercise,
)
from grader.errors import AssignmentError
from grader.sandbox.limits import Limits

#: The file's name in a hand-out folder (and inside the installed package, for the bundled assignment).
COPY_NAME = "assignment.grader"
FORMAT = "grader-student-copy"
VERSION = 1
#: Bounds on what a copy may hold: far above any real assignment, far below what could hurt.
MAX_MEMBERS = 500
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 256 * 1024 * 1024
#: How far up from a checked path a copy is looked for (the hand-out folder, a subfolder of it, ...).
SEARCH_DEPTH = 3
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
#: Fixed member times, so the same assignment always gives the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


# --------------------------------------------------------------------------- writing


def pack_student_copy(
    out: Path,
    assignment: Assignment,
    *,
    checks: Mapping[str, str],
    answers: Mapping[str, Mapping[str, Mapping[str, Answer]]],
    hidden: Iterable[HiddenCheck],
    written_by: str,
) -> Path:
    """Write ``out``: the stubs, ``checks`` (exercise -> public checks' source) and the recorded ``answers``."""
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "title": assignment.title,
        "fingerprint": assignment.fingerprint(),
        "written_by": written_by,
        "exercises": list(assignment.names),
        "limits": assignment.limits.to_dict(),
        "hidden": [
            {"exercise": h.exercise, "function": h.function, "name": h.name, "description": h.description}
            | {"points": h.points}
            for h in hidden
        ],
    }
    members: dict[str, bytes] = {"manifest.json": _json(manifest)}
    for exercise in assignment.exercises:
        members[f"exercises/{exercise.name}.py"] = exercise.stub.read_bytes()
        members[f"checks/check_{exercise.name}.py"] = checks[exercise.name].encode()
        members[f"answers/{exercise.name}.json"] = _json(
            {
                check: {key: _answer_to_json(answer) for key, answer in sorted(recorded.items())}
                for check, recorded in sorted(answers.get(exercise.name, {}).items())
            }
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(out)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return out


def public_checks_source(source: str, hidden: Iterable[str]) -> str:
    """A checks file's source without its hidden checks, and without what only they used.

    The hidden check functions are cut out line by line (decorators
    included), so the public checks keep their text, comments and line
    numbers' order; then top-level helpers and constants that nothing left
    refers to are cut the same way, until none is left: a hidden check's
    input builder would describe its inputs.
    """
    tree = ast.parse(source)
    cut = set(hidden)
    lines = source.splitlines(keepends=True)
    removed: set[int] = set()
    while True:
        body = [node for index, node in enumerate(tree.body) if index not in removed]
        names = _names_used(node for node in body if _defined(node) not in cut)
        doomed = [
            index
            for index, node in enumerate(tree.body)
            if index not in removed
            and (name := _defined(node)) is not None
            and (name in cut or (not name.startswith("check_") and name not in names and name != "__all__"))
        ]
        if not doomed:
            break
        removed.update(doomed)
        cut.update(name for index in doomed if (name := _defined(tree.body[index])) is not None)
    keep = [True] * len(lines)
    for index in removed:
        node = tree.body[index]
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        for line in range(first - 1, node.end_lineno or node.lineno):
            keep[line] = False
    return "".join(line for line, kept in zip(lines, keep, strict=True) if kept)


def _defined(node: ast.stmt) -> str | None:
    """The one name a top-level function, class or single assignment defines (None for anything else)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return node.name
    targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
    if len(targets) == 1 and isinstance(targets[0], ast.Name):
        return targets[0].id
    return None


def _names_used(nodes: Iterable[ast.stmt]) -> set[str]:
    used: set[str] = set()
    for node in nodes:
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Store):
                used.add(child.id)
            elif isinstance(child, ast.Attribute):
                used.add(child.attr)  # a name read as module.attr, or a string looked up later
            elif isinstance(child, ast.Constant) and isinstance(child.value, str) and _NAME.fullmatch(child.value):
                used.add(child.value)
    return used


def _json(data: Any) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=1, ensure_ascii=True, allow_nan=False) + "\n").encode()


def _answer_to_json(answer: Answer) -> dict[str, Any]:
    return {
        "value": base64.b64encode(answer.value).decode("ascii"),
        "raised": list(answer.raised) if answer.raised is not None else None,
        "seconds": answer.seconds,
    }


# --------------------------------------------------------------------------- reading


def read_student_copy(path: Path) -> Assignment:
    """Read a copy: unpack its stubs and public checks into a private folder, keep its answers in memory."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = _members(archive, path)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, RuntimeError, EOFError) as exc:
        raise AssignmentError(f"{path}: not a readable student copy of an assignment ({exc})") from None
    manifest = _manifest(members, path)
    root = _unpacked(members, manifest, path)
    exercises = tuple(
        read_exercise(
            name,
            stub=root / "exercises" / f"{name}.py",
            solution=None,
            checks=root / "checks" / f"check_{name}.py",
        )
        for name in manifest["exercises"]
    )
    copy = StudentCopy(
        path=path.resolve(),
        fingerprint=manifest["fingerprint"],
        hidden=tuple(_hidden(entry, path) for entry in manifest["hidden"]),
        answers={
            check: recorded
            for name in manifest["exercises"]
            for check, recorded in _answers(members.get(f"answers/{name}.json", b"{}"), path).items()
        },
        written_by=str(manifest.get("written_by", "")),
    )
    try:
        limits = Limits.from_dict(dict(manifest["limits"]))
    except (TypeError, ValueError) as exc:
        raise AssignmentError(f"{path}: bad limits in the student copy ({exc})") from None
    return Assignment(root=root, title=manifest["title"], exercises=exercises, limits=limits, copy=copy)


def _members(archive: zipfile.ZipFile, path: Path) -> dict[str, bytes]:
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise AssignmentError(f"{path}: a student copy holds at most {MAX_MEMBERS} files, this one {len(infos)}")
    total = 0
    members: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        if not _member_name_ok(info.filename):
            raise AssignmentError(f"{path}: unexpected file {info.filename[:200]!r} in a student copy")
        total += info.file_size
        if info.file_size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
            raise AssignmentError(f"{path}: {info.filename} is larger than a student copy's files may be")
        with archive.open(info) as member:
            data = member.read(MAX_MEMBER_BYTES + 1)
        if len(data) > MAX_MEMBER_BYTES:
            raise AssignmentError(f"{path}: {info.filename} is larger than a student copy's files may be")
        members[info.filename] = data
    return members


def _member_name_ok(name: str) -> bool:
    if name == "manifest.json":
        return True
    folder, _, file = name.partition("/")
    stem, dot, suffix = file.rpartition(".")
    return (
        folder in ("exercises", "checks", "answers")
        and dot == "."
        and suffix == ("json" if folder == "answers" else "py")
        and _NAME.fullmatch(stem) is not None
    )


def _manifest(members: Mapping[str, bytes], path: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(members["manifest.json"])
    except KeyError:
        raise AssignmentError(f"{path}: not a student copy of an assignment (no manifest.json)") from None
    except (ValueError, RecursionError) as exc:
        raise AssignmentError(f"{path}: the student copy's manifest cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise AssignmentError(f"{path}: not a student copy of an assignment")
    version = manifest.get("version")
    if version != VERSION:
        raise AssignmentError(
            f"{path}: a student copy of format version {version!r}; this grader reads version {VERSION}: "
            "install the grader version your course uses"
        )
    names = manifest.get("exercises")
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) and _NAME.fullmatch(n) for n in names)
        or not isinstance(manifest.get("title"), str)
        or not isinstance(manifest.get("fingerprint"), str)
        or not isinstance(manifest.get("hidden"), list)
        or not isinstance(manifest.get("limits"), dict)
    ):
        raise AssignmentError(f"{path}: the student copy's manifest is malformed")
    for name in names:
        for member in (f"exercises/{name}.py", f"checks/check_{name}.py"):
            if member not in members:
                raise AssignmentError(f"{path}: the student copy lacks {member}")
    return manifest


def _hidden(entry: object, path: Path) -> HiddenCheck:
    try:
        assert isinstance(entry, dict)
        return HiddenCheck(
            exercise=str(entry["exercise"]),
            function=str(entry["function"]),
            name=str(entry["name"]),
            description=str(entry["description"])[:500],
            points=float(entry["points"]),
        )
    except (AssertionError, KeyError, TypeError, ValueError):
        raise AssignmentError(f"{path}: a hidden check of the student copy is malformed") from None


def _answers(raw: bytes, path: Path) -> dict[str, dict[str, Answer]]:
    try:
        data = json.loads(raw)
        assert isinstance(data, dict)
        return {
            str(check): {str(key): _answer_from_json(answer) for key, answer in recorded.items()}
            for check, recorded in data.items()
        }
    except (ValueError, RecursionError, AssertionError, AttributeError, TypeError, KeyError) as exc:
        raise AssignmentError(f"{path}: the student copy's recorded answers cannot be read ({exc})") from None


def _answer_from_json(data: dict[str, Any]) -> Answer:
    raised = data["raised"]
    seconds = data["seconds"]
    return Answer(
        value=base64.b64decode(data["value"], validate=True),
        raised=(str(raised[0]), str(raised[1])) if raised is not None else None,
        seconds=float(seconds) if seconds is not None else None,
    )


def _unpacked(members: Mapping[str, bytes], manifest: Mapping[str, Any], path: Path) -> Path:
    """The stubs and checks as files (pytest collects checks from disk), in a folder removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="grader-copy-"))
    atexit.register(_remove, root, os.getpid())
    for folder in ("exercises", "checks"):
        (root / folder).mkdir()
    for name, data in members.items():
        if name.startswith(("exercises/", "checks/")):
            (root / name).write_bytes(data)
    lines = [
        "# Unpacked from a student copy; the copy itself is the source of truth.",
        "[assignment]",
        f"title = {json.dumps(manifest['title'])}",
        f"exercises = {json.dumps(manifest['exercises'])}",
    ]
    (root / MANIFEST).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def _remove(root: Path, owner: int) -> None:
    # Only the process that unpacked it removes it: grading processes forked later share the folder.
    if os.getpid() == owner:
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- finding


def find_student_copy(near: Path) -> Path | None:
    """The copy a student's work belongs with: ``assignment.grader`` in its folder or a few folders up."""
    folder = near.resolve()
    if not folder.is_dir():
        folder = folder.parent
    for candidate in [folder, *folder.parents][: SEARCH_DEPTH + 1]:
        copy = candidate / COPY_NAME
        if copy.is_file():
            return copy
    return None


def bundled_copy_path() -> Path | None:
    """The installed package's copy of the bundled assignment (None in a checkout, which has the full one)."""
    packaged = bundled_assignment_path() / COPY_NAME
    return packaged if packaged.is_file() else None


def open_assignment(path: Path | None = None, *, near: Path | None = None) -> Assignment:
    """The assignment a command works with.

    ``path`` may be an assignment folder, a hand-out folder holding a copy,
    or a copy itself. Without it: the copy next to ``near`` (the student's
    work), else the bundled assignment (a copy when installed from the wheel,
    the full folder in a checkout).
    """
    if path is None and near is not None:
        path = find_student_copy(near)
    if path is None:
        path = bundled_copy_path()
    if path is None:
        return load_assignment(None)
    if path.is_file():
        return read_student_copy(path)
    if not (path / MANIFEST).is_file() and (path / COPY_NAME).is_file():
        return read_student_copy(path / COPY_NAME)
    return load_assignment(path)


def require_full(assignment: Assignment, command: str) -> Assignment:
    """Refuse a student's copy where only the full assignment will do (grading a class, a bundle, selftest)."""
    if assignment.copy is not None:
        raise AssignmentError(
            f"{command} needs the full assignment (its reference solutions and hidden checks), and "
            f"{assignment.copy.path} is a {assignment.describe()}: pass --assignment with the assignment folder "
            "(the bundled one is in the grader's repository)"
        )
    return assignment
