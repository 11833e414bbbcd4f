"""``grader new-exercise``: scaffold an exercise (stub, solution, checks, mutant) and list it in the manifest.

The scaffold is a working example of the check-authoring API, not a blank
page: it passes ``grader selftest`` as written, so a teacher edits from a green
state and every later red is their own change. ``assignment.toml`` is edited
as text, not rewritten by a TOML writer, so the teacher's comments and layout
survive.
"""

from __future__ import annotations

import importlib.util
import keyword
import sys
import tomllib
from pathlib import Path
from typing import Any

from grader.assignment import MANIFEST
from grader.errors import UsageError
from grader.selftest import MUTANTS_DIR

_STUB = '''"""{title}.

Explain the idea of the exercise here: the students read this docstring first,
in the stub and at the top of their notebook.
"""

import torch


def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Return ``x`` with every element multiplied by ``factor``.

    Contract: a tensor of ``x``'s shape and dtype; ``x`` itself is unchanged.

    >>> scale(torch.tensor([1.0, 2.0]), 3.0)
    tensor([3., 6.])
    """
    raise NotImplementedError
'''

_SOLUTION = '''"""{title} (reference solution)."""

import torch


def scale(x: torch.Tensor, factor: float) -> torch.Tensor:
    return x * factor
'''

_CHECKS = '''"""Checks for {name}: scale."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch

from grader.assertions import assert_tensor_close, looks_like, shape_text
from grader.checking import check

HINT_ADDED = "Multiply by factor (x * factor): adding it shifts every element instead of scaling it."


@check("scale", points=1, hint="Multiply every element of x by factor: x * factor.")
def check_scale_values(student: Any, reference: ModuleType) -> None:
    """Multiplies every element of a random matrix by the factor."""
    x = torch.randn(int(torch.randint(2, 6, ())), 3)  # seeded per check: the same inputs every run
    factor = 2.5
    expected = reference.scale(x, factor)
    got = student.scale(x, factor)
    hint = HINT_ADDED if looks_like(got, x + factor) else ""  # a targeted hint, only on evidence
    assert_tensor_close(got, expected, what=f"scale(x, {{factor}}) for x of shape {{shape_text(x.shape)}}", hint=hint)
'''

_MUTANTS = '''"""Known-wrong versions of {name}, each a plausible student mistake the checks must catch."""


def scale__adds(x, factor):
    return x + factor
'''


def new_exercise(root: Path, name: str, *, title: str | None = None) -> list[Path]:
    """Scaffold exercise ``name`` in the assignment folder ``root`` and return the files written.

    Creates ``root`` and its ``assignment.toml`` (titled after the folder) when
    they do not exist yet, so the first call also bootstraps a new assignment.
    ``title`` is the exercise's title, the first line of the stub's docstring.
    Nothing is written unless every file can be: existing files, a listed
    name or a manifest that cannot be edited safely raise ``UsageError``.
    """
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(f"exercise name {name!r} is not a valid Python module name (letters, digits, _)")
    if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
        # The student's module is imported by this name: it would hide (or be hidden by) that module.
        raise UsageError(f"exercise name {name!r} is already the name of an importable module: choose another")
    title = _title(name, title)
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    files = {
        root / "exercises" / f"{name}.py": _STUB.format(title=_docstring_text(title)),
        root / "solutions" / f"{name}.py": _SOLUTION.format(title=_docstring_text(title)),
        root / "checks" / f"check_{name}.py": _CHECKS.format(name=name),
        root / "checks" / MUTANTS_DIR / f"{name}.py": _MUTANTS.format(name=name),
    }
    existing = [str(path) for path in files if path.exists()]
    if existing:
        raise UsageError(f"exercise {name}: refusing to overwrite {', '.join(existing)}")
    manifest = root / MANIFEST
    if manifest.is_file():
        text = manifest.read_text(encoding="utf-8")
        updated = add_to_manifest(text, name, manifest=manifest)
    else:
        updated = _new_manifest(root, name)
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    manifest.write_text(updated, encoding="utf-8")
    return [*files, manifest]


def add_to_manifest(text: str, name: str, *, manifest: Path = Path(MANIFEST)) -> str:
    """Return ``text`` (an ``assignment.toml``) with ``name`` appended to ``[assignment] exercises``.

    The result is parsed again and must list exactly the old exercises plus
    ``name``: a manifest laid out in a way this editor does not understand is
    refused rather than silently damaged.
    """
    before = _parse(text, manifest)
    table = before.get("assignment", {})
    if not isinstance(table, dict):
        raise UsageError(f"{manifest}: [assignment] is not a table")
    old = table.get("exercises")
    if old is not None and (not isinstance(old, list) or not all(isinstance(n, str) for n in old)):
        raise UsageError(f"{manifest}: [assignment] exercises must be a list of module names")
    old = list(old or [])
    if name in old:
        raise UsageError(f"{manifest}: exercise {name!r} is already listed in [assignment] exercises")
    updated = _insert(text, name, has_table="assignment" in before, has_list="exercises" in table)
    if updated is None:
        raise UsageError(f"{manifest}: cannot find the [assignment] exercises list to edit; add {name!r} to it by hand")
    after = _parse(updated, manifest).get("assignment", {}).get("exercises")
    if after != [*old, name]:
        raise UsageError(f"{manifest}: cannot edit the [assignment] exercises list safely; add {name!r} to it by hand")
    return updated


def _title(name: str, title: str | None) -> str:
    if title is None:
        return name.replace("_", " ").strip().capitalize() or name
    title = title.strip()
    if not title or "\n" in title or "\r" in title:
        raise UsageError("the exercise title must be one non-empty line")
    return title.rstrip(".")


def _docstring_text(text: str) -> str:
    """``text`` made safe inside a triple-quoted docstring."""
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _new_manifest(root: Path, name: str) -> str:
    title = root.resolve().name.replace("_", " ").replace("-", " ").strip() or "My assignment"
    return (
        "[assignment]\n"
        f"title = {_toml_string(title)}\n"
        f"exercises = [{_toml_string(name)}]\n"
        '# Check ids "exercise::check_name" (without the check_ prefix) shown to students only as a verdict.\n'
        "hidden = []\n"
        "\n"
        "[limits]\n"
        "timeout_s = 5\n"
        "memory_mib = 1024\n"
    )


def _parse(text: str, manifest: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{manifest}: {exc}") from None


def _insert(text: str, name: str, *, has_table: bool, has_list: bool) -> str | None:
    """Insert ``name`` textually; ``None`` when the manifest's layout is not one this understands."""
    lines = text.splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if _is_header(line, "assignment")), None)
    item = _toml_string(name)
    if not has_table:
        if header is not None:
            return None
        # At the end: above the first table it would capture the manifest's top-level keys.
        return text + ("" if text.endswith("\n") or not text else "\n") + f"\n[assignment]\nexercises = [{item}]\n"
    if header is None:
        return None  # e.g. an inline table or dotted keys: too unusual to edit blindly
    end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    if not has_list:
        return "".join([*lines[: header + 1], f"exercises = [{item}]\n", *lines[header + 1 :]])
    start = next((i for i in range(header + 1, end) if _is_key(lines[i], "exercises")), None)
    if start is None:
        return None
    offset = sum(len(line) for line in lines[:start])
    opening = text.index("[", offset + lines[start].index("="))
    span = _array_span(text, opening)
    if span is None:
        return None
    last, closing = span
    if text[last] == "[":  # an empty array
        return text[: last + 1] + item + text[last + 1 :]
    comma = "" if text[last] == "," else ","
    if "\n" not in text[last:closing]:  # '..., "b"]' on one line: append on the same line
        return text[: last + 1] + comma + " " + item + text[last + 1 :]
    # A multi-line array: a new line indented like the last item's, just before the closing bracket's line.
    line = text[text.rfind("\n", 0, last) + 1 : last]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    close_line = text.rfind("\n", 0, closing) + 1
    return text[: last + 1] + comma + text[last + 1 : close_line] + f"{indent}{item},\n" + text[close_line:]


def _is_header(line: str, table: str) -> bool:
    stripped = line.split("#", 1)[0].strip()
    return stripped.startswith("[") and not stripped.startswith("[[") and stripped[1:-1].strip() == table


def _is_key(line: str, key: str) -> bool:
    head, sep, _ = line.partition("=")
    return bool(sep) and head.strip().strip("\"'") == key


def _array_span(text: str, opening: int) -> tuple[int, int] | None:
    """For the array opening at ``opening``: (index of its last significant character, index of its ``]``).

    Strings and comments are skipped, so a ``]`` or ``#`` inside them does not
    end the array early.
    """
    depth = 0
    last = opening
    i = opening
    while i < len(text):
        char = text[i]
        if char == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
            continue
        if char in "\"'":
            triple = text.startswith(char * 3, i)
            quote = char * 3 if triple else char
            j = i + len(quote)
            while j < len(text) and not text.startswith(quote, j):
                j += 2 if char == '"' and text[j] == "\\" else 1
            if j >= len(text):
                return None
            i = j + len(quote)
            last = i - 1
            continue
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return last, i
        if not char.isspace():
            last = i
        i += 1
    return None
