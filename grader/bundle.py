"""The Gradescope autograder bundle: one zip built from the installed grader and an assignment.

The zip holds ``setup.sh`` and ``run_autograder`` at its root (Gradescope's
"Autograder Specifications"), this grader as a wheel and the assignment
folder, so building the image needs nothing but Python packages from their
indexes. The wheel is assembled from the grader's own installed files, not
built from a source tree: that works for a grader installed from a wheel as
well as for a checkout, needs no build backend, takes milliseconds, and
leaves out the assignment the package carries (``_assignment``), so the only
solutions in the bundle are those of the assignment chosen. Every entry has
a fixed time stamp, so the same grader and assignment give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import re
import shlex
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grader
from grader.assignment import MANIFEST, Assignment
from grader.errors import UsageError
from grader.output import write_atomic
from grader.platforms import chosen_exercises

#: Where setup.sh installs torch from by default: the CPU build (Gradescope machines have no GPU).
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
_INDEX_URL = re.compile(r"https?://[^\s'\"\\]+")
#: The parts of an assignment folder that grading reads (assignment.py); nothing else is bundled.
ASSIGNMENT_PARTS = ("exercises", "solutions", "checks")
_SKIP = {"__pycache__", "_assignment"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_SCRIPTS = Path(__file__).with_name("bundle_files")


@dataclass(frozen=True)
class Bundle:
    """What went into a bundle: its entries (path -> bytes), the wheel's name and the torch pin."""

    entries: dict[str, bytes]
    wheel: str
    torch: str
    torch_index: str = TORCH_INDEX


def _package_files(package: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(package.rglob("*")):
        parts = path.relative_to(package).parts
        if any(part in _SKIP or part.startswith(".") for part in parts) or path.suffix == ".pyc":
            continue
        if path.is_file():
            yield "/".join(("grader", *parts)), path.read_bytes()


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel() -> tuple[str, bytes]:
    """Assemble a ``py3-none-any`` wheel of the installed grader: its name and bytes.

    The metadata (version, requirements) is the installed distribution's own,
    so pip on Gradescope resolves the same dependencies as here.
    """
    try:
        dist = importlib.metadata.distribution("grader")
    except importlib.metadata.PackageNotFoundError:
        raise UsageError("the grader is not installed as a package (pip install -e .): cannot bundle it") from None
    version = dist.version
    info = f"grader-{version}.dist-info"
    files = list(_package_files(Path(grader.__file__).resolve().parent))
    files.append((f"{info}/METADATA", (dist.read_text("METADATA") or "").encode()))
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        files.append((f"{info}/entry_points.txt", entry_points.encode()))
    wheel_file = "Wheel-Version: 1.0\nGenerator: grader bundle\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files.append((f"{info}/WHEEL", wheel_file.encode()))
    record = "".join(_record_line(name, data) + "\n" for name, data in files) + f"{info}/RECORD,,\n"
    files.append((f"{info}/RECORD", record.encode()))
    return f"grader-{version}-py3-none-any.whl", _zip({name: data for name, data in files})


def torch_requirement() -> str:
    """The installed grader's exact torch pin (``torch==2.13.0``), written into setup.sh."""
    for requirement in importlib.metadata.requires("grader") or []:
        match = re.fullmatch(r"torch\s*==\s*([\w.]+)", requirement.strip())
        if match:
            return f"torch=={match.group(1)}"
    raise UsageError("the installed grader does not pin torch with ==: refusing to bundle an unpinned torch")


def _assignment_files(assignment: Assignment) -> Iterator[tuple[str, bytes]]:
    root = assignment.root
    yield f"assignment/{MANIFEST}", (root / MANIFEST).read_bytes()
    for part in ASSIGNMENT_PARTS:
        for path in sorted((root / part).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not any(p in _SKIP or p.startswith(".") for p in rel.parts) and path.suffix != ".pyc":
                yield "assignment/" + rel.as_posix(), path.read_bytes()


def _script(name: str, settings: dict[str, str | Sequence[str]]) -> bytes:
    lines = []
    for key, value in settings.items():
        if isinstance(value, str):
            lines.append(f"{key}={shlex.quote(value)}")
        else:
            lines.append(f"{key}=({' '.join(shlex.quote(v) for v in value)})")
    text = (_SCRIPTS / name).read_text(encoding="utf-8")
    return text.replace("# @settings@", "\n".join(lines)).encode()


def gradescope_bundle(
    assignment: Assignment, *, exercises: Sequence[str] = (), torch_index: str = TORCH_INDEX
) -> Bundle:
    """The bundle's entries for ``assignment`` (graded whole, or only ``exercises``).

    ``torch_index``: where setup.sh installs torch from (a course's mirror of the CPU builds).
    """
    if not _INDEX_URL.fullmatch(torch_index):
        raise UsageError(f"--torch-index {torch_index!r}: not an http(s) URL of a package index")
    torch_index = torch_index.rstrip("/")
    chosen = chosen_exercises(assignment, exercises) if exercises else ()
    wheel, wheel_bytes = build_wheel()
    torch = torch_requirement()
    flags = [item for name in chosen for item in ("--exercise", name)]
    entries = {
        "setup.sh": _script("setup.sh", {"WHEEL": wheel, "TORCH": torch, "TORCH_INDEX": torch_index}),
        "run_autograder": _script("run_autograder", {"EXERCISES": flags}),
        wheel: wheel_bytes,
        **dict(_assignment_files(assignment)),
    }
    return Bundle(entries, wheel, torch, torch_index)


_EXECUTABLE = {"setup.sh", "run_autograder"}


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if name in _EXECUTABLE else 0o100644) << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def write_gradescope_bundle(
    out: Path, assignment: Assignment, *, exercises: Sequence[str] = (), torch_index: str = TORCH_INDEX
) -> Bundle:
    """Write the Gradescope autograder zip to ``out`` (atomically) and say what is in it."""
    bundle = gradescope_bundle(assignment, exercises=exercises, torch_index=torch_index)
    write_atomic(out, _zip(bundle.entries))
    return bundle
