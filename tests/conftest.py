"""Shared fixtures: a tiny assignment built under tmp_path, and grading sessions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis.configuration import set_hypothesis_home_dir
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from grader.assignment import Assignment, load_assignment
from grader.grading import Grader
from grader.models import CheckResult, ClassReport, Report
from grader.schemas import load_schema

# Tests fork children from this process (test_isolation). Once a torch op has run
# on several threads here, a forked child that uses threads again hangs in
# OpenMP: the same rule the zygote and the grader follow, for the whole session.
torch.set_num_threads(1)

TINY_STUB = '''
"""A tiny exercise for the grader's own tests."""


def double(x):
    """Return 2 * x for a tensor x."""
    raise NotImplementedError


def shout(text):
    """Return text upper-cased with a "!" appended."""
    raise NotImplementedError
'''

TINY_SOLUTION = """
def double(x):
    return 2 * x


def shout(text):
    return text.upper() + "!"
"""

TINY_CHECKS = '''
import torch

from grader.assertions import assert_tensor_close
from grader.checking import check, fail


@check("double", points=2, hint="Multiply by 2.")
def check_double_values(student, reference):
    """double gives twice its input."""
    x = torch.randn(3, 4)
    assert_tensor_close(student.double(x), reference.double(x), what="double(x)")


@check("double", points=1)
def check_double_int(student, reference):
    """double works on integer tensors."""
    x = torch.arange(5)
    assert_tensor_close(student.double(x), reference.double(x), what="double(x)")


@check("shout", points=1)
def check_shout(student, reference):
    """shout upper-cases and adds '!'."""
    got = student.shout("hi")
    if got != reference.shout("hi"):
        fail(f"shout('hi'): expected 'HI!', got {got!r}")


@check("shout", points=1, hidden=True)
def check_shout_hidden(student, reference):
    """shout on a longer text."""
    text = "secret-input-xyz"
    got = student.shout(text)
    if got != reference.shout(text):
        fail(f"shout({text!r}): expected {reference.shout(text)!r}, got {got!r}")
'''


def write_assignment(root: Path, *, checks: str = TINY_CHECKS, timeout_s: float = 2.0) -> Path:
    """Write the tiny assignment under ``root`` and return its folder."""
    for folder, text in (("exercises", TINY_STUB), ("solutions", TINY_SOLUTION), ("checks", None)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        if text is not None:
            (root / folder / "ex_tiny.py").write_text(textwrap.dedent(text))
    (root / "checks" / "check_ex_tiny.py").write_text(textwrap.dedent(checks))
    (root / "assignment.toml").write_text(
        textwrap.dedent(
            f"""
            [assignment]
            title = "Tiny"
            exercises = ["ex_tiny"]

            [limits]
            timeout_s = {timeout_s}
            memory_mib = 768
            """
        )
    )
    return root


@pytest.fixture(scope="module")
def hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Hypothesis keeps its caches under tmp_path, not in the repository's ``.hypothesis``."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Assignment:
    return load_assignment(write_assignment(tmp_path_factory.mktemp("tiny")))


@pytest.fixture
def make_assignment(tmp_path: Path) -> Callable[[str], Assignment]:
    """A tiny assignment with other checks: ``make_assignment(checks_source)``."""
    return lambda checks: load_assignment(write_assignment(tmp_path / "assignment", checks=checks))


@pytest.fixture(scope="session")
def tiny_grader(tiny: Assignment) -> Iterator[Grader]:
    with Grader(tiny) as grader:
        yield grader


@pytest.fixture(scope="session")
def bundled() -> Assignment:
    return load_assignment()


@pytest.fixture(scope="session")
def bundled_grader(bundled: Assignment) -> Iterator[Grader]:
    with Grader(bundled) as grader:
        yield grader


# --- the result format's JSON Schema -----------------------------------------


def _schema_validators() -> dict[str, Draft202012Validator]:
    """One validator per shipped schema (and one for a single check), resolving their ``$ref``s offline."""
    report, results = load_schema("report"), load_schema("results")
    registry: Registry[Any] = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in (report, results)
    )
    check = {"$ref": f"{report['$id']}#/$defs/check"}
    return {
        name: Draft202012Validator(schema, registry=registry)
        for name, schema in (("report", report), ("results", results), ("check", check))
    }


SCHEMAS = _schema_validators()


def schema_errors(name: str, data: Any) -> list[str]:
    """Where ``data`` breaks the shipped schema ``name`` ("report", "results" or "check"), one line each."""
    return [f"{error.json_path}: {error.message}" for error in SCHEMAS[name].iter_errors(data)]


@pytest.fixture(autouse=True)
def json_results_match_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every result the grader turns into JSON during a test is held to the shipped schema.

    ``--format json``, ``result.json``, ``results.json`` and the cache are all
    made from these three ``to_dict`` methods, in this process (the grading
    processes are fresh interpreters, whose reports are rendered here). A
    violation is collected and fails the test at its end, even where grader
    code would have caught the exception.
    """
    violations: list[str] = []

    def validating(cls: type, schema: str) -> None:
        original = cls.to_dict  # type: ignore[attr-defined]

        def to_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
            data = original(self, *args, **kwargs)
            violations.extend(f"{cls.__name__}.to_dict() {line}" for line in schema_errors(schema, data))
            return data

        monkeypatch.setattr(cls, "to_dict", to_dict)

    validating(Report, "report")
    validating(ClassReport, "results")
    validating(CheckResult, "check")
    yield
    if violations:
        pytest.fail("JSON output breaks grader/schemas:\n" + "\n".join(dict.fromkeys(violations)), pytrace=False)


@pytest.fixture
def dicts_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The student of each report turned into a dict from now on, in this process, whichever method asked."""
    made: list[str] = []
    original = Report._to_dict

    def counted(self: Report) -> dict[str, Any]:
        made.append(self.student)
        return original(self)

    monkeypatch.setattr(Report, "_to_dict", counted)
    return made


# --- the Nu Html Checker ------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent
CI_VNU_JAR = REPO_ROOT / ".ci" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


@pytest.fixture
def notebook_client() -> Iterator[Callable[..., Any]]:
    """Makes ``nbclient.NotebookClient``s whose kernels talk over Unix sockets, in a folder removed afterwards.

    Over TCP, jupyter_client picks free ports and lets them go before the
    kernel binds them: two test processes starting kernels at once can pick
    the same port, and a kernel dies with "Address already in use". Each
    kernel gets a folder of its own (kernels started together would pick the
    same socket names in one), under the system's temporary folder: a socket's
    path may not pass 107 bytes, which a test's ``tmp_path`` nearly does.
    """
    from nbclient import NotebookClient
    from traitlets.config import Config

    sockets = Path(tempfile.mkdtemp(prefix="grader-kernels-"))

    def make(notebook: Any, *, cwd: Path, timeout: int) -> NotebookClient:
        # The client makes (and shuts down) its own kernel manager, configured here: one given to it stays running.
        config = Config()
        config.KernelManager.transport = "ipc"
        config.KernelManager.ip = str(Path(tempfile.mkdtemp(dir=sockets)) / "kernel")
        return NotebookClient(
            notebook, config=config, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
        )

    try:
        yield make
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


def find_vnu_jar() -> Path | None:
    """``$VNU_JAR`` if set, else the copy ``.ci/run`` installs with npm, else None."""
    configured = os.environ.get("VNU_JAR", "")
    jar = Path(configured) if configured else CI_VNU_JAR
    return jar if jar.is_file() else None


class Vnu:
    """Runs the Nu Html Checker (``--Werror --also-check-css --format json``) on files, one JVM per call."""

    def __init__(self, java: str, jar: Path) -> None:
        self.java, self.jar = java, jar

    def __call__(self, files: Sequence[Path]) -> list[dict[str, Any]]:
        """Check all ``files`` in one invocation; its messages (an empty list: all valid, no warnings)."""
        assert files, "vnu: no files to check"
        command = [self.java, "-jar", str(self.jar), "--Werror", "--also-check-css", "--format", "json"]
        result = subprocess.run([*command, *map(str, files)], capture_output=True, text=True, timeout=300, check=False)
        try:
            messages: list[dict[str, Any]] = json.loads(result.stderr)["messages"]
        except (ValueError, KeyError, TypeError):
            pytest.fail(f"vnu exited {result.returncode} without JSON output: {result.stderr[-2000:]}")
        if result.returncode != 0 and not messages:
            pytest.fail(f"vnu exited {result.returncode} with no messages: {result.stdout[-2000:]}")
        return messages

    @staticmethod
    def describe(messages: list[dict[str, Any]]) -> str:
        """One line per message, for an assertion's explanation."""
        return "\n".join(
            f"{m.get('url', '?')}:{m.get('lastLine', '?')}: {m.get('type')}/{m.get('subType', '-')}: "
            f"{m.get('message')} [{m.get('extract', '')!r}]"
            for m in messages
        )


@pytest.fixture(scope="session")
def vnu() -> Vnu:
    """``vnu(files)``: the Nu Html Checker's messages on ``files``; skips when there is no jar or no java.

    The jar is ``$VNU_JAR``, else the one ``.ci/run`` installs with npm under ``.ci/vnu``.
    """
    jar = find_vnu_jar()
    if jar is None:
        pytest.skip("no vnu.jar: set VNU_JAR, or install it: npm install --no-save --prefix .ci/vnu vnu-jar")
    java = shutil.which("java")
    if java is None:
        pytest.skip("the Nu Html Checker (vnu.jar) needs java on PATH")
    return Vnu(java, jar)
