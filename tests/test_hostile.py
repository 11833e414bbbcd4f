"""A further set of hostile and broken submissions, graded in one batch beside honest students.

Each case in ``hostile/`` is one student's submission, correct except for its
attack, and ``hostile/expected.json`` states the verdict each judged function
must get (the format of ``attacks/expected.json``). The cases cover every
threat class of ARCHITECTURE.md at least twice beyond the shared sixteen.

Everything is graded in ONE batch (``grade_class``, two engines, 2 s per call)
together with ``aa_honest`` and ``zz_honest`` (copies of the reference, sorted
first and last); a further honest student is graded after the poisoners by
the same ``Grader``. Beyond the verdicts: the batch finishes; every check has a
readable reason; the honest students keep full marks; nothing is written
outside scratch folders (canary folders, ``/tmp``, ``sys.path`` entries); no
file outside scratch changes mode, owner, times or extended attributes, nor
does the host name (the privilege cases attack what the harness made under
its own temporary folder, plus the standard library's and torch's files); the
loopback listener gets nothing; no answer-key or classmate text appears in any
output; no live markup, raw control or bidi characters, or forged CI workflow
commands reach any report format; every JSON/XML output parses.

Some cases are generated at test time instead of being stored: ``h705`` is
padded to ~10 MB, ``h708`` becomes a zip with bomb entries, ``h504`` is renamed
to a student name full of markup and escapes.
"""

from __future__ import annotations

import io
import json
import os
import re
import resource
import shutil
import socket
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from watch import CANARY, LISTEN_PORT, RAW_CONTROL, grade_watched

from grader.assignment import Assignment
from grader.grading import Grader
from grader.models import ClassReport, Outcome, Report
from grader.render import REPORT_FORMATS, render_step_summary, render_text
from grader.sandbox.limits import Limits
from grader.submission import load_submission

pytestmark = pytest.mark.slow

HOSTILE = Path(__file__).parent / "hostile"
EXPECTED = json.loads((HOSTILE / "expected.json").read_text())
HONEST = ("aa_honest", "zz_honest")
HOSTILE_NAME = "h504_<img src=x onerror=alert(2)><svg onload=alert(1)>\x1b[2J\x1b]8;;https:evil\x07\u202eevil"  # no "/"
#: Case folder -> the student name it is graded under.
STUDENT = {case: case for case in EXPECTED} | {"h504_hostile_student_name": HOSTILE_NAME}
#: Text that appears only if an attack read something it must not (or got a forbidden side effect through).
FORBIDDEN = ("LEAK", "VICTIMSECRET", "ALLOWED", "pwned", "HOSTILE_POISONED")
#: Workflow commands a student printed, which must never start a line of any output.
FORGED_COMMAND = re.compile(
    r"^\s*(::(set-output|add-mask|stop-commands|notice title=FAKEPASS|warning::FAKEPASS|error file=grader)|##\[)", re.M
)
#: Cases that still fail because of a grader bug: case -> reason (strict xfail, remove when fixed).
XFAIL: dict[str, str] = {}
#: Files the poisoning cases try to create in every sys.path entry.
POISON_NAMES = ("sitecustomize.py", "usercustomize.py", "hostile_poison.pth", "hostile_poison_torch")
TMP_POISON = [
    Path("/tmp/HOSTILE_POISON.py"),
    Path("/dev/shm/HOSTILE_POISON"),
    Path("/var/tmp/HOSTILE_POISON"),
    Path("/tmp/hostile_disk_fill.bin"),
    Path("/tmp/sitecustomize.py"),
    Path("/tmp/conftest.py"),
    Path("/tmp/torch.py"),
    Path("/tmp/results.json"),
    Path("/tmp/report.html"),
]


def _poison_paths() -> set[Path]:
    """Every file a poisoning case could have created outside its scratch folder."""
    found = {p for p in TMP_POISON if p.exists()}
    # os.walk, not glob: it skips folders that vanish mid-walk (another grader's scratch, removed as it ends).
    for top in Path("/tmp").glob("grader-*"):
        found |= {Path(root) / "HOSTILE_POISON" for root, _, files in os.walk(top) if "HOSTILE_POISON" in files}
    for entry in sys.path:
        if entry and Path(entry).is_dir():
            found |= {Path(entry) / name for name in POISON_NAMES if (Path(entry) / name).exists()}
    return found


def _ten_mb(source: Path, target: Path) -> None:
    text = source.read_text()
    padding = "# " + "padding " * 127 + "\n"
    target.write_text("".join([padding] * (10 * 1024 * 1024 // len(padding))) + text)


def _zip_bomb(source: Path, target: Path) -> None:
    """A zip with the correct file, a 4 GiB-declared entry and a deflate bomb whose header lies."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ex05_activations.py", source.read_text())
        archive.writestr("huge.py", b"#" * 1000)
        archive.writestr("bomb.py", b"\0" * (64 * 1024 * 1024))
    data = bytearray(buffer.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        infos = {i.filename: i for i in archive.infolist()}
    # Central directory entries: uncompressed size at offset 24 (huge.py -> 4 GiB - 1, bomb.py -> 100 bytes).
    for name, size in (("huge.py", 0xFFFFFFFF), ("bomb.py", 100)):
        encoded = name.encode()
        start = 0
        while (pos := data.find(b"PK\x01\x02", start)) >= 0:
            if data[pos + 46 : pos + 46 + len(encoded)] == encoded:
                data[pos + 24 : pos + 28] = size.to_bytes(4, "little")
            start = pos + 4
        local = infos[name].header_offset
        data[local + 22 : local + 26] = size.to_bytes(4, "little")
    target.write_bytes(bytes(data))


@dataclass(frozen=True)
class Victims:
    """What the privilege cases attack outside scratch: made here, under the test's own temporary folder."""

    target: Path  # a file with its setuid bit set (not executable) and an extended attribute
    canary: Path  # a folder with one file in it

    @classmethod
    def make(cls, folder: Path) -> Victims:
        folder.chmod(0o755)
        target = folder / "victim.txt"
        target.write_text("not yours\n")
        target.chmod(0o4644)
        os.setxattr(target, "user.grader", b"original")
        canary = folder / "canary"
        canary.mkdir()
        (canary / "keep.txt").write_text("keep\n")
        return cls(target, canary)

    def own(self) -> list[Path]:
        """What the harness made outside scratch for the cases to attack."""
        return [self.target, self.canary, self.canary / "keep.txt"]

    def watched(self) -> list[Path]:
        """Every path whose metadata must not change; the standard library's and torch's own files too."""
        return [*self.own(), Path(os.__file__), Path(torch.__file__)]

    def placeholders(self) -> dict[str, str]:
        """The values the cases' sources name; the zygote inherits this process's priority, CPUs and limits."""
        return {
            "__TARGET__": str(self.target),
            "__CANARY__": str(self.canary),
            "__NICE__": str(os.getpriority(os.PRIO_PROCESS, 0)),
            "__CPUS__": repr(sorted(os.sched_getaffinity(0))),
            "__NOFILE__": repr(resource.getrlimit(resource.RLIMIT_NOFILE)),
        }


def _metadata(paths: list[Path], *, own: Collection[Path]) -> dict[str, tuple[object, ...]]:
    """Mode, owner, times (ctime moves on any change, even a no-op) and extended attributes of each path.

    The access time is compared only for the files the harness made (``own``): any process on the
    machine that reads ``os.py`` or torch's ``__init__.py`` may move theirs (relatime), and a
    succeeded ``utime`` moves their ctime anyway.
    """
    found = {}
    for path in paths:
        info = os.stat(path)
        xattrs = tuple(sorted((name, os.getxattr(path, name)) for name in os.listxattr(path)))
        atime = info.st_atime_ns if path in own else None
        found[str(path)] = (oct(info.st_mode), info.st_uid, info.st_gid, atime, info.st_mtime_ns,
                            info.st_ctime_ns, xattrs)  # fmt: skip
    return found


def _fill_in(folder: Path, values: dict[str, str]) -> None:
    for path in folder.glob("*.py"):
        data = path.read_bytes()  # some cases are not UTF-8 on purpose
        if any(name.encode() in data for name in values):
            for name, value in values.items():
                data = data.replace(name.encode(), value.encode())
            path.write_bytes(data)


def _build_class(class_dir: Path, bundled: Assignment, victims: Victims) -> None:
    for case in EXPECTED:
        source = HOSTILE / case
        if case == "h705_ten_mb_file":
            (class_dir / case).mkdir()
            _ten_mb(source / "ex05_activations.py", class_dir / case / "ex05_activations.py")
        elif case == "h708_zip_bomb":
            _zip_bomb(source / "ex05_activations.py", class_dir / f"{case}.zip")
        else:
            shutil.copytree(source, class_dir / STUDENT[case])
            _fill_in(class_dir / STUDENT[case], victims.placeholders())
    for name in HONEST:
        shutil.copytree(bundled.root / "solutions", class_dir / name)


@pytest.fixture(scope="module")
def graded(
    bundled: Assignment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ClassReport, Path, int | None]]:
    class_dir = tmp_path_factory.mktemp("hostile-class")
    victims = Victims.make(tmp_path_factory.mktemp("hostile-victims"))
    _build_class(class_dir, bundled, victims)
    listing_before = sorted(victims.canary.rglob("*"))  # first: a listing moves the folder's atime
    metadata_before, host_before = _metadata(victims.watched(), own=victims.own()), socket.gethostname()
    canary_before = sorted(CANARY.rglob("*")) if CANARY.exists() else []
    poison_before = _poison_paths()
    out = tmp_path_factory.mktemp("hostile-out")
    try:
        result, hits = grade_watched(class_dir, out, bundled)
    finally:
        poison_after = _poison_paths()
    for path in poison_after - poison_before:  # clean up before failing, so the next run starts clean
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    assert poison_after == poison_before, f"an attack wrote outside its scratch folder: {poison_after - poison_before}"
    canary_after = sorted(CANARY.rglob("*")) if CANARY.exists() else []
    assert canary_after == canary_before, (
        f"an attack wrote to the canary folder: {set(canary_after) - set(canary_before)}"
    )
    metadata_after = _metadata(victims.watched(), own=victims.own())
    assert metadata_after == metadata_before, "an attack changed file metadata outside scratch"
    assert sorted(victims.canary.rglob("*")) == listing_before, "an attack wrote into the harness's canary folder"
    assert socket.gethostname() == host_before
    # Every per-report format too, so the greps below see what a student or CI would see.
    for report in result.reports:
        folder = out / "formats" / _slug(report.student)
        folder.mkdir(parents=True, exist_ok=True)
        for render, filename in REPORT_FORMATS.values():
            (folder / filename).write_text(render(report), errors="strict")
        (folder / "step_summary.md").write_text(render_step_summary(report))
    yield result, out, hits


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)[:60]


def _report(result: ClassReport, case: str) -> Report:
    return next(r for r in result.reports if r.student == STUDENT[case])


def _cases() -> list[object]:
    return [
        pytest.param(case, marks=pytest.mark.xfail(reason=XFAIL[case], strict=True)) if case in XFAIL else case
        for case in sorted(EXPECTED)
    ]


def test_every_student_is_graded(graded: tuple[ClassReport, Path, int | None]) -> None:
    result, _, _ = graded
    assert not result.errors
    assert sorted(r.student for r in result.reports) == sorted([*STUDENT.values(), *HONEST])


@pytest.mark.parametrize("case", _cases())
def test_each_function_gets_its_verdict(graded: tuple[ClassReport, Path, int | None], case: str) -> None:
    result, _, _ = graded
    report = _report(result, case)
    spec = EXPECTED[case]
    for function, verdict in spec["functions"].items():
        checks = [c for c in report.checks if c.exercise == spec["module"] and c.function == function]
        assert checks, f"{case}: no check of {function}"
        passed = all(c.outcome is Outcome.PASSED for c in checks)
        reasons = [f"{c.name}: {c.outcome.value} {c.message[:300]}" for c in checks if not c.outcome.ok]
        assert passed == (verdict == "pass"), f"{case}.{function} should {verdict}; {reasons}"
    for function, needle in spec.get("reasons", {}).items():
        messages = [c.message for c in report.checks if c.exercise == spec["module"] and c.function == function]
        assert any(needle in m for m in messages), f"{case}.{function}: no reason mentions {needle!r}: {messages[:2]}"
    if "problem" in spec:
        assert any(spec["problem"] in p for p in report.problems), f"{case}: {report.problems}"
    for check in report.checks:
        if not check.outcome.ok and not check.hidden:
            assert check.message.strip(), f"{case}: {check.name} has no reason"


@pytest.mark.parametrize("name", HONEST)
def test_honest_students_keep_full_marks(graded: tuple[ClassReport, Path, int | None], name: str) -> None:
    result, _, _ = graded
    honest = next(r for r in result.reports if r.student == name)
    assert not [(c.name, c.message) for c in honest.checks if not c.outcome.ok]
    assert honest.score == honest.max_score > 0


def test_an_honest_student_after_the_poisoners_in_the_same_grader(
    graded: tuple[ClassReport, Path, int | None], bundled: Assignment, tmp_path: Path
) -> None:
    limits = Limits.from_dict({**bundled.limits.to_dict(), "timeout_s": 2.0})
    poisoners = [c for c in EXPECTED if c.startswith("h4")]
    before = _poison_paths()
    with Grader(bundled, limits=limits) as grader:
        for case in poisoners:
            grader.grade(load_submission(HOSTILE / case, bundled, name=case), exercises=["ex05_activations"])
        shutil.copytree(bundled.root / "solutions", tmp_path / "after")
        honest = grader.grade(load_submission(tmp_path / "after", bundled, name="after"))
    assert _poison_paths() == before
    assert not [(c.name, c.message) for c in honest.checks if not c.outcome.ok]
    assert honest.score == honest.max_score > 0


def test_no_attack_reaches_the_network(graded: tuple[ClassReport, Path, int | None]) -> None:
    _, _, hits = graded
    if hits is None:
        pytest.skip(f"port {LISTEN_PORT} was busy: no listener could watch it")
    assert hits == 0


def test_no_answer_key_or_classmate_text_in_any_output(
    graded: tuple[ClassReport, Path, int | None], bundled: Assignment
) -> None:
    _, out, _ = graded
    leaks = []
    for exercise in ("ex05_activations", "ex03_linear", "ex01_tensors"):
        solution = bundled.exercise(exercise).solution.read_text()
        docstring_free = solution.split('"""')[-1].strip()
        for path in out.rglob("*"):
            if path.is_file() and ".cache" not in path.parts:
                text = path.read_text(errors="replace")
                leaks += [f"{path}: {word}" for word in FORBIDDEN if word in text]
                if docstring_free[:200] in text:
                    leaks.append(f"{path}: reference code of {exercise}")
    assert not sorted(set(leaks))


def test_outputs_parse_and_no_fake_results_file_wins(graded: tuple[ClassReport, Path, int | None]) -> None:
    _, out, _ = graded
    results = json.loads((out / "results.json").read_text())
    assert results != {"score": 100, "max_score": 100, "note": "FAKEPASS"}
    for path in out.rglob("*.json"):
        json.loads(path.read_text())
    for path in out.rglob("*.xml"):
        ET.fromstring(path.read_bytes())
    assert "FAKEPASS" not in (out / "grades.csv").read_text()


#: Formats printed on a CI runner's stdout (``grader check`` defaults to text), where the
#: GitHub runner honours ``::command::`` after leading whitespace (ActionCommand.TryParseV2
#: trims the line first) and the legacy ``##[command]`` form.
STDOUT_FORMATS = ("text", "markdown", "github", "classroom")


@pytest.mark.parametrize(
    "fmt",
    STDOUT_FORMATS,
)
def test_no_forged_workflow_command_reaches_stdout_formats(
    graded: tuple[ClassReport, Path, int | None], fmt: str
) -> None:
    result, _, _ = graded
    render = REPORT_FORMATS[fmt][0]
    forged = []
    for report in result.reports:
        forged += [f"{report.student[:20]}: {m.group(0)!r}" for m in FORGED_COMMAND.finditer(render(report))]
    assert not forged


def test_student_text_is_never_live_markup(graded: tuple[ClassReport, Path, int | None]) -> None:
    result, out, _ = graded
    bad = []
    for path in out.rglob("*"):
        if not path.is_file() or ".cache" in path.parts:
            continue
        text = path.read_text(errors="replace")
        if path.suffix in (".html", ".md"):
            lowered = text.lower()
            bad += [f"{path}: {tag}" for tag in ("<script>alert", "<img src=x", "<svg onload") if tag in lowered]
        if RAW_CONTROL.search(text):
            bad.append(f"{path}: raw control {RAW_CONTROL.search(text).group(0)!r}")
    for report in result.reports:
        text = render_text(report)
        if RAW_CONTROL.search(text):
            bad.append(f"terminal {report.student!r}: raw control {RAW_CONTROL.search(text).group(0)!r}")
    assert not bad


def test_no_student_report_is_larger_than_a_megabyte(graded: tuple[ClassReport, Path, int | None]) -> None:
    """Whatever a worker sent back (texts of megabytes, thousands of layers), each student's report stays small."""
    result, out, _ = graded
    sizes = {path: path.stat().st_size for path in (out / "formats").rglob("*") if path.is_file()}
    assert sizes, "no student's report was written"
    assert not [f"{path}: {size:,} bytes" for path, size in sizes.items() if size > 1_000_000]
    # The class's files grow with the class: what one student adds to them is what is bounded.
    shares = {r.student: len(json.dumps(r.to_dict(), ensure_ascii=True)) for r in result.reports}
    assert not {student: size for student, size in shares.items() if size > 1_000_000}
