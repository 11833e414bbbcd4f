"""The shared hostile and broken submissions, graded in one batch beside an honest student.

Each case in ``../shared/attacks`` (bundled copy: ``tests/attacks``) states the
verdict each of its functions must get. Beyond the verdicts, a correct
grader finishes, gives every check a readable reason, keeps the honest
student's full marks, writes nothing outside the scratch folder, reaches no
network and shows no answer-key text or live markup anywhere.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from grader.assignment import Assignment
from grader.batch import grade_class
from grader.models import ClassReport, Outcome
from grader.output import write_class_outputs, write_student_outputs
from grader.render import render_text
from grader.sandbox.limits import Limits

pytestmark = pytest.mark.slow

ATTACKS = Path(__file__).parent / "attacks"
EXPECTED = json.loads((ATTACKS / "expected.json").read_text())
CANARY = Path("/tmp/grader-attack-canary")
LISTEN_PORT = 47999
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class Listener:
    """Counts TCP connections and UDP datagrams on the port the network attacks aim at."""

    def __init__(self) -> None:
        self.hits = 0
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.tcp.bind(("127.0.0.1", LISTEN_PORT))
            self.tcp.listen()
            self.udp.bind(("127.0.0.1", LISTEN_PORT))
        except OSError:  # the port is taken (another run): no listener, but no leaked sockets
            self.tcp.close()
            self.udp.close()
            raise
        self.tcp.settimeout(0.2)
        self.udp.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            for sock in (self.tcp, self.udp):
                try:
                    if sock is self.tcp:
                        conn, _ = sock.accept()
                        conn.close()
                    else:
                        sock.recvfrom(4096)
                    self.hits += 1
                except (TimeoutError, OSError):
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.tcp.close()
        self.udp.close()


@pytest.fixture(scope="module")
def graded(
    bundled: Assignment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ClassReport, Path, int | None]]:
    class_dir = tmp_path_factory.mktemp("class")
    for case in EXPECTED:
        shutil.copytree(ATTACKS / case, class_dir / case)
    honest = class_dir / "zz_honest"
    shutil.copytree(bundled.root / "solutions", honest)
    before = sorted(CANARY.rglob("*")) if CANARY.exists() else []
    try:
        listener: Listener | None = Listener()
    except OSError:
        listener = None
    out = tmp_path_factory.mktemp("out")
    limits = Limits.from_dict({**bundled.limits.to_dict(), "timeout_s": 2.0})
    try:
        result = grade_class(class_dir, out, bundled, jobs=2, limits=limits, write_student=write_student_outputs)
        write_class_outputs(out, result)
    finally:
        hits = listener.hits if listener else None
        if listener:
            listener.close()
    after = sorted(CANARY.rglob("*")) if CANARY.exists() else []
    assert after == before, f"an attack wrote outside its scratch folder: {set(after) - set(before)}"
    yield result, out, hits


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_each_function_gets_its_verdict(graded: tuple[ClassReport, Path, int | None], case: str) -> None:
    result, _, _ = graded
    report = next(r for r in result.reports if r.student == case)
    spec = EXPECTED[case]
    for function, verdict in spec["functions"].items():
        checks = [c for c in report.checks if c.exercise == spec["module"] and c.function == function]
        assert checks, f"{case}: no check of {function}"
        passed = all(c.outcome is Outcome.PASSED for c in checks)
        reasons = [f"{c.name}: {c.outcome.value} {c.message[:200]}" for c in checks if not c.outcome.ok]
        assert passed == (verdict == "pass"), f"{case}.{function} should {verdict}; {reasons}"
    for check in report.checks:
        if not check.outcome.ok and not check.hidden:
            assert check.message.strip(), f"{case}: {check.name} has no reason"


def test_the_honest_student_keeps_full_marks(graded: tuple[ClassReport, Path, int | None]) -> None:
    result, _, _ = graded
    honest = next(r for r in result.reports if r.student == "zz_honest")
    failed = [(c.name, c.message) for c in honest.checks if not c.outcome.ok]
    assert not failed
    assert honest.score == honest.max_score > 0


def test_no_attack_reaches_the_network(graded: tuple[ClassReport, Path, int | None]) -> None:
    _, out, hits = graded
    if hits is None:
        pytest.skip(f"port {LISTEN_PORT} was busy: no listener could watch it")
    assert hits == 0
    assert "ALLOWED" not in (out / "results.json").read_text()


def test_no_answer_key_text_in_any_output(graded: tuple[ClassReport, Path, int | None], bundled: Assignment) -> None:
    _, out, _ = graded
    solution = bundled.exercise("ex05_activations").solution.read_text()
    docstring_free = solution.split('"""')[-1].strip()  # the code after the module docstring
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert "LEAK" not in text, path
            assert docstring_free[:200] not in text, path


def test_student_text_is_never_live_markup(graded: tuple[ClassReport, Path, int | None]) -> None:
    result, out, _ = graded
    for path in list(out.rglob("*.html")):
        html = path.read_text()
        assert "<script" not in html.lower(), path
        assert "<img" not in html.lower(), path
        assert not RAW_CONTROL.search(html), path
    for report in result.reports:
        text = render_text(report)
        assert not RAW_CONTROL.search(text), report.student
