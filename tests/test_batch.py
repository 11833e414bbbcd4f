"""Batch grading: outputs, cache and resume, corrupt cache, faults that must lose nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import grader.batch as batch
from grader.assignment import Assignment
from grader.batch import CACHE_DIR, Progress, grade_class
from grader.errors import OutputError, UsageError
from grader.grading import Grader
from grader.models import CheckResult, Outcome, Report
from grader.output import write_atomic, write_class_outputs, write_student_outputs
from grader.plugin import Job
from grader.roster import open_roster
from grader.submission import Submission, build_submission

pytestmark = pytest.mark.slow

CORRECT = "def double(x):\n    return x + x\n\ndef shout(text):\n    return text.upper() + '!'\n"
SLOW = "import time\ntime.sleep(0.3)\n" + CORRECT
WRONG = "def double(x):\n    return x\n\ndef shout(text):\n    return text\n"


def make_class(root: Path, students: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, source in students.items():
        folder = root / name
        folder.mkdir()
        (folder / "ex_tiny.py").write_text(source)
    return root


def run_batch(class_dir: Path, out: Path, tiny: Assignment, **options: object) -> tuple[list[Progress], bytes]:
    seen: list[Progress] = []
    result = grade_class(
        class_dir, out, tiny, jobs=2, on_progress=seen.append, write_student=write_student_outputs, **options
    )
    write_class_outputs(out, result)
    return seen, (out / "results.json").read_bytes()


def _in_a_process(script: str, *args: Path, hung: str = "the batch hung") -> Any:
    """Run ``script`` (a batch that prints its outcome as JSON) in a fresh Python with ``args``; that outcome."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.fail(hung)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_outputs_cache_and_identical_rerun(tmp_path: Path, tiny: Assignment) -> None:
    class_dir = make_class(tmp_path / "class", {"alice": CORRECT, "bob": WRONG, "carol": CORRECT})
    out = tmp_path / "out"
    first, results = run_batch(class_dir, out, tiny)
    assert not any(p.cached for p in first)
    data = json.loads(results)
    assert [s["student"] for s in data["students"]] == ["alice", "bob", "carol"]
    assert {s["student"]: s["score"] for s in data["students"]} == {"alice": 5.0, "bob": 0.0, "carol": 5.0}
    for student in ("alice", "bob", "carol"):
        assert (out / student / "report.html").is_file()
        assert json.loads((out / student / "result.json").read_text())["student"] == student
    grades = (out / "grades.csv").read_text().splitlines()
    assert grades[0].startswith("student,score,max_score")
    assert len(grades) == 4
    assert "alice" in (out / "index.html").read_text()
    # alice and carol are identical but too small to judge (a few lines): never flagged
    assert data["similar"] == []

    second, again = run_batch(class_dir, out, tiny)
    assert all(p.cached for p in second)
    assert again == results

    forced, forced_results = run_batch(class_dir, out, tiny, force=True)
    assert not any(p.cached for p in forced)
    assert forced_results == results


def test_a_class_is_read_and_graded_with_fewer_rounds_of_the_cyclic_collector(tmp_path: Path, tiny: Assignment) -> None:
    import gc

    class_dir = make_class(tmp_path / "class", {"alice": CORRECT, "bob": WRONG})
    before = gc.get_threshold()
    during: list[tuple[int, int, int]] = []
    grade_class(class_dir, tmp_path / "out", tiny, jobs=1, on_roster=lambda roster: during.append(gc.get_threshold()))
    assert during == [(batch.BATCH_GC_THRESHOLD, *before[1:])]
    assert gc.get_threshold() == before  # as it was, once the class is graded


def snapshot(out: Path) -> dict[str, tuple[bytes, int, int]]:
    """Every output file (the cache aside): its bytes, inode and modification time."""
    files = {}
    for path in sorted(out.rglob("*")):
        if path.is_file() and CACHE_DIR not in path.relative_to(out).parts:
            info = path.stat()
            files[str(path.relative_to(out))] = (path.read_bytes(), info.st_ino, info.st_mtime_ns)
    return files


def test_a_rerun_of_an_unchanged_class_parses_renders_and_writes_nothing(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    class_dir = make_class(tmp_path / "class", {"alice": CORRECT, "bob": WRONG, "carol": CORRECT})
    out = tmp_path / "out"
    run_batch(class_dir, out, tiny)
    before = snapshot(out)
    assert {"index.html", "results.json", "grades.csv", "junit.xml", "alice/report.html", "bob/result.json"} <= set(
        before
    )

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("called on a re-run with nothing changed")

    for name in ("parse_submission", "find_similar"):  # no submission parsed, no similarity computed
        monkeypatch.setattr(f"grader.batch.{name}", forbidden)
    for name in ("render_html", "render_class_pages", "render_junit", "render_grades_csv", "write_atomic"):
        monkeypatch.setattr(f"grader.output.{name}", forbidden)
    second, _ = run_batch(class_dir, out, tiny)
    assert all(p.cached for p in second)
    assert snapshot(out) == before  # same bytes, same inodes, same times: not one file written again


def test_a_rerun_rewrites_exactly_what_was_deleted_edited_or_changed(tmp_path: Path, tiny: Assignment) -> None:
    class_dir = make_class(tmp_path / "class", {"alice": CORRECT, "bob": WRONG, "carol": CORRECT, "dan": WRONG})
    out = tmp_path / "out"
    run_batch(class_dir, out, tiny)
    before = snapshot(out)

    (out / "bob" / "report.html").unlink()
    (out / "carol" / "result.json").write_text('{"score": 100}')  # a hand edit
    (out / "junit.xml").unlink()
    _, results = run_batch(class_dir, out, tiny)
    after = snapshot(out)
    assert {name: data for name, (data, _, _) in after.items()} == {name: data for name, (data, _, _) in before.items()}
    changed = {name for name in after if after[name][1:] != before[name][1:]}
    # The class files are rebuilt together from the cached reports; students' files only where touched.
    assert changed == {"bob/report.html", "carol/result.json", *(n for n in before if "/" not in n)}

    (class_dir / "dan" / "ex_tiny.py").write_text(CORRECT)  # a resubmission
    third, results = run_batch(class_dir, out, tiny)
    assert [p.student for p in third if not p.cached] == ["dan"]
    assert {s["student"]: s["score"] for s in json.loads(results)["students"]}["dan"] == 5.0
    latest = snapshot(out)
    untouched = {name for name in latest if "/" in name and not name.startswith("dan/")}
    assert all(latest[name][1:] == after[name][1:] for name in untouched)
    assert latest["dan/result.json"][0] != after["dan/result.json"][0]


def test_a_rerun_is_byte_identical_to_the_run_it_reuses(tmp_path: Path, tiny: Assignment) -> None:
    # Whatever is reused (reports, student files, the similarity clusters), the
    # class files rebuilt from the cache equal the ones the grading run wrote.
    class_dir = make_class(tmp_path / "class", {f"s{i}": (CORRECT if i % 2 else WRONG) for i in range(5)})
    out = tmp_path / "out"
    run_batch(class_dir, out, tiny)
    before = snapshot(out)
    for name in ("index.html", "results.json", "grades.csv", "junit.xml", "similar.html"):
        (out / name).unlink()
    run_batch(class_dir, out, tiny)
    assert {n: d for n, (d, _, _) in snapshot(out).items()} == {n: d for n, (d, _, _) in before.items()}


def test_identical_submissions_are_graded_once_and_each_gets_the_report_under_its_name(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    graded: list[str] = []
    original = batch._grade_parallel

    def spy(submissions: list[Submission], *args: Any, **kwargs: Any) -> Iterator[Report]:
        graded.extend(s.name for s in submissions)
        return original(submissions, *args, **kwargs)

    monkeypatch.setattr(batch, "_grade_parallel", spy)
    # ana and cy hand in the same bytes; bo's file differs by one comment, dee's by its name.
    class_dir = make_class(tmp_path / "class", {"ana": WRONG, "bo": WRONG + "# mine\n", "cy": WRONG})
    (class_dir / "dee").mkdir()
    (class_dir / "dee" / "ex_tiny_copy.py").write_text(WRONG)
    out = tmp_path / "out"
    _, results = run_batch(class_dir, out, tiny)
    assert sorted(graded) == ["ana", "bo", "dee"]
    students = {s["student"]: s for s in json.loads(results)["students"]}
    assert set(students) == {"ana", "bo", "cy", "dee"}
    assert students["cy"]["checks"] == students["ana"]["checks"]
    assert students["cy"]["score"] == students["ana"]["score"] == 0.0
    assert json.loads((out / "cy" / "result.json").read_text())["student"] == "cy"
    assert "cy" in (out / "cy" / "report.html").read_text()


def test_each_report_becomes_a_dict_once_for_its_cache_entry_its_files_and_results_json(
    tmp_path: Path, tiny: Assignment, dicts_made: list[str]
) -> None:
    # cy's files are ana's: graded once, each report their own (their id is in it).
    class_dir = make_class(tmp_path / "class", {"ana": WRONG, "bo": CORRECT, "cy": WRONG})
    out = tmp_path / "out"
    _, results = run_batch(class_dir, out, tiny)
    assert sorted(dicts_made) == ["ana", "bo", "cy"]
    students = json.loads(results)["students"]
    for entry in students:  # what results.json and the student's own JSON hold: the same text
        text = (out / entry["student"] / "result.json").read_text()
        assert text == json.dumps(entry, ensure_ascii=True) + "\n"
    for path in (out / CACHE_DIR).glob("*.json"):  # each entry laid out as json.dumps of it whole
        data = json.loads(path.read_bytes())
        report = Report.from_dict(data["report"])
        assert (
            path.read_bytes()
            == json.dumps({"key": data["key"], "report": report.to_dict(), "outputs": data["outputs"]}).encode()
        )
        assert report.to_dict(timings=False) == next(s for s in students if s["student"] == report.student)


def test_a_cache_entry_is_the_report_with_its_timings(tmp_path: Path) -> None:
    report = Report(
        "zoë",
        (CheckResult("ex", "f", 'check "ü"', Outcome.FAILED, 0.0, 1.0, message="a\n\\b", duration_s=0.125),),
        duration_s=2.5,
    )
    cache = batch.Cache(tmp_path)
    stamps = {"report.html": (1, 2, 3, 4)}
    digest = cache.put("k", report.to_json(), stamps)
    raw = (tmp_path / "k.json").read_bytes()
    assert raw == json.dumps({"key": "k", "report": report.to_dict(), "outputs": stamps}).encode()
    cached = cache.get("k")
    assert cached is not None and cached.report == report and cached.outputs == stamps and cached.digest == digest
    assert cache.put("k", report.to_json()) and json.loads((tmp_path / "k.json").read_bytes())["outputs"] == {}


def test_corrupt_cache_entry_is_regraded(tmp_path: Path, tiny: Assignment) -> None:
    class_dir = make_class(tmp_path / "class", {"alice": CORRECT, "bob": WRONG})
    out = tmp_path / "out"
    _, results = run_batch(class_dir, out, tiny)
    entries = sorted((out / CACHE_DIR).glob("*.json"))
    assert len(entries) == 2
    entries[0].write_text('{"key": "truncated')
    seen, again = run_batch(class_dir, out, tiny)
    assert sorted(p.cached for p in seen) == [False, True]
    assert again == results


def test_killed_batch_resumes_to_the_same_results(tmp_path: Path, tiny: Assignment) -> None:
    # Each file its own (a comment), so no two are copies graded once (see the test of identical submissions).
    students = {f"s{i:02d}": f"# s{i:02d}\n" + (SLOW if i % 3 else WRONG) for i in range(12)}
    class_dir = make_class(tmp_path / "class", students)
    reference_out = tmp_path / "uninterrupted"
    _, expected = run_batch(class_dir, reference_out, tiny)

    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "grader",
        "grade",
        str(class_dir),
        "--out",
        str(out),
        "--assignment",
        str(tiny.root),
        "--jobs",
        "1",
    ]
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env
    )
    deadline = time.monotonic() + 120
    while len(list(out.glob("*/result.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(out.glob("*/result.json")))
    assert 3 <= done < len(students), "the batch was not interrupted half-way"
    assert not (out / "results.json").exists()
    # The grading processes notice their parent is gone after their current
    # student, clean up, and the last one out removes the round's scratch folder.
    deadline = time.monotonic() + 60
    while list(temp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(temp.iterdir()) == []

    resumed, results = run_batch(class_dir, out, tiny)
    assert sum(p.cached for p in resumed) >= done - 2  # a student may be written but not yet cached
    assert results == expected


def test_interrupted_batch_leaves_no_scratch_folder_behind(tmp_path: Path, tiny: Assignment) -> None:
    # Ctrl-C kills the grading processes mid-student, before they can clean up:
    # the batch itself removes every worker folder of the round.
    class_dir = make_class(tmp_path / "class", {f"s{i:02d}": f"# s{i:02d}\n{SLOW}" for i in range(8)})
    temp = tmp_path / "tmp"
    temp.mkdir()
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader", "grade", str(class_dir), "--out", str(out)]
    command += ["--assignment", str(tiny.root)]
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while not list(temp.glob("grader-batch-*/w-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(temp.glob("grader-batch-*/w-*")), "no worker started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert list(temp.iterdir()) == []


KILLING_CHECKS = """
import os
import signal

from grader.checking import check, fail


@check("shout", points=1)
def check_shout(student, reference):
    got = student.shout("hi")
    if got == "DIE!":  # stands for anything that kills a grading process (the OOM killer...)
        os.kill(os.getpid(), signal.SIGKILL)
    if got != reference.shout("hi"):
        fail("wrong")
"""


def test_a_student_whose_grading_process_dies_is_retried_once_and_named(
    tmp_path: Path, make_assignment: Callable[[str], Assignment]
) -> None:
    assignment = make_assignment(KILLING_CHECKS)
    killer = CORRECT.replace("text.upper() + '!'", "'DIE!'")
    students = {f"s{i}": f"# s{i}\n{CORRECT}" for i in range(6)} | {"killer": killer}
    class_dir = make_class(tmp_path / "class", students)
    result = grade_class(class_dir, tmp_path / "out", assignment, jobs=2)
    assert {r.student: r.score for r in result.reports} == {f"s{i}": 1.0 for i in range(6)}
    (error,) = result.errors
    assert error.startswith("could not grade killer:")


def test_a_student_who_could_not_be_graded_is_not_cached_and_the_cli_exits_7(
    tmp_path: Path, make_assignment: Callable[[str], Assignment]
) -> None:
    from click.testing import CliRunner

    from grader.cli import cli
    from grader.errors import IncompleteError

    assignment = make_assignment(KILLING_CHECKS)
    killer = CORRECT.replace("text.upper() + '!'", "'DIE!'")
    class_dir = make_class(tmp_path / "class", {"ann": CORRECT, "killer": killer})
    out = tmp_path / "out"
    args = ["grade", str(class_dir), "--out", str(out), "--assignment", str(assignment.root), "--jobs", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == IncompleteError.exit_code == 7, result.output
    assert "grading incomplete: could not grade killer" in result.output
    students = [s["student"] for s in json.loads((out / "results.json").read_text())["students"]]
    assert students == ["ann"]
    assert not (out / "killer").exists()
    cached = [json.loads(p.read_text())["report"]["student"] for p in (out / CACHE_DIR).glob("*.json")]
    assert cached == ["ann"]
    assert not list(out.rglob("*.tmp"))


#: Checks that say which grading process ran them: each line of ``SEEN`` is what one did.
ENGINE_CHECKS = """
import os
import signal
from pathlib import Path

from grader.checking import check, fail

SEEN = Path({seen!r})
with SEEN.open("a") as seen:  # collecting the checks
    seen.write(f"collected {{os.getpid()}}\\n")


@check("shout", points=1)
def check_shout(student, reference):
    got = student.shout("hi")
    cpus = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    with SEEN.open("a") as seen:
        seen.write(f"graded {{os.getpid()}} {{os.getppid()}} {{cpus}} {{got}}\\n")
    if got == "DIE!":  # once a test: kill the grading process ``victim`` names, this one or the other
        try:
            os.close(os.open(SEEN.with_name("killed"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            pass
        else:
            victim = SEEN.with_name("victim").read_text()
            first = Path(f"/proc/{{os.getppid()}}/comm").read_text().strip() != "grader-engine"
            if first == (victim == "first"):
                os.kill(os.getpid(), signal.SIGKILL)
            elif first:  # the victim is the grading process this one forked
                (child,) = Path(f"/proc/self/task/{{os.getpid()}}/children").read_text().split()
                os.kill(int(child), signal.SIGKILL)
            else:
                os.kill(os.getppid(), signal.SIGKILL)
    if got != reference.shout("hi"):
        fail("wrong")
"""


def _answering(answer: str) -> str:
    """Slow to import, so that every grading process of a batch gets some of the class; ``shout`` says ``answer``."""
    return SLOW.replace("text.upper() + '!'", repr(answer))


def _engine_groups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pid of the first grading process of each group the batches in this test start (``fork_engines``)."""
    leaders: list[int] = []
    real_fork = batch.Zygote.fork_engines

    def fork_engines(self: batch.Zygote, channels: Any) -> int:
        leader = real_fork(self, channels)
        leaders.append(leader)
        return leader

    monkeypatch.setattr(batch.Zygote, "fork_engines", fork_engines)
    return leaders


def _left_in(groups: list[int]) -> list[int]:
    """The groups that still hold a process, dead (a zombie: not reaped) or alive, once given time to go.

    Those a grading process forked and outlived are reaped by init, not by
    this process: that takes a moment.
    """
    deadline = time.monotonic() + 30
    while True:
        left = []
        for group in groups:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                continue
            left.append(group)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _comparable(reports: tuple[Report, ...]) -> list[Report]:
    """Reports without the times they took: what must not depend on how many grading processes there were."""
    return [replace(r, duration_s=0.0, checks=tuple(replace(c, duration_s=0.0) for c in r.checks)) for r in reports]


@pytest.mark.parametrize("most", [3, 2])
def test_a_class_graded_by_forked_grading_processes_gets_the_reports_one_process_gives(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch, most: int
) -> None:
    # Three grading processes: the first forks the two others, or (two at most per group) one, and
    # the zygote forks a second group of one.
    students = {"right": CORRECT, "wrong": WRONG, "slow": SLOW, "half": CORRECT.replace("x + x", "x")}
    students |= {"raising": "def double(x):\n    raise ValueError('no')\n", "empty": "# nothing yet\n"}
    class_dir = make_class(tmp_path / "class", students)
    alone = grade_class(class_dir, tmp_path / "alone", tiny, jobs=1)
    monkeypatch.setattr(batch, "MAX_ENGINES", most)
    leaders = _engine_groups(monkeypatch)
    forked = grade_class(class_dir, tmp_path / "forked", tiny, jobs=3)
    assert len(leaders) == -(-3 // most)
    assert alone.errors == forked.errors == ()
    assert _comparable(forked.reports) == _comparable(alone.reports)
    assert {r.student: r.score for r in forked.reports}["half"] == 2.0  # graded, not all alike


def test_the_other_grading_processes_are_forked_by_the_first_once_it_has_collected_the_checks(
    tmp_path: Path, make_assignment: Callable[[str], Assignment]
) -> None:
    seen = tmp_path / "seen"
    assignment = make_assignment(ENGINE_CHECKS.format(seen=str(seen)))
    # Each its own answer, so that no verdict is remembered: every student's check runs and says where.
    class_dir = make_class(tmp_path / "class", {f"s{i}": _answering(f"HI{i}") for i in range(6)})
    allowed = sorted(os.sched_getaffinity(0))
    result = grade_class(class_dir, tmp_path / "out", assignment, jobs=2)
    assert result.errors == ()
    assert len(result.reports) == 6
    lines = [line.split() for line in seen.read_text().splitlines()]
    collected = [int(line[1]) for line in lines if line[0] == "collected"]
    assert len(collected) == 1, "each grading process collected the checks itself"
    (first,) = collected
    graded = {int(line[1]): (int(line[2]), line[3]) for line in lines if line[0] == "graded"}
    others = set(graded) - {first}
    assert len(others) == 1, "the second grading process graded no one"
    assert all(graded[pid][0] == first for pid in others)  # the first one's children
    if len(allowed) >= 2:  # each on a CPU of its own, from its own set-up
        assert {cpus for _, cpus in graded.values()} == {str(allowed[0]), str(allowed[1])}


@pytest.mark.parametrize("victim", ["first", "forked"])
def test_a_grading_process_killed_mid_batch_loses_nothing_and_every_one_is_reaped(
    tmp_path: Path, make_assignment: Callable[[str], Assignment], monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    # The first dies: the one it forked goes on grading, an orphan; the forked one dies: the first reaps it.
    seen = tmp_path / "seen"
    (tmp_path / "victim").write_text(victim)
    assignment = make_assignment(ENGINE_CHECKS.format(seen=str(seen)))
    students = {f"s{i}": _answering(f"HI{i}") for i in range(6)} | {"s2": _answering("DIE!")}
    class_dir = make_class(tmp_path / "class", students)
    leaders = _engine_groups(monkeypatch)
    result = grade_class(class_dir, tmp_path / "out", assignment, jobs=2)
    assert (tmp_path / "killed").exists()
    assert result.errors == ()
    assert sorted(r.student for r in result.reports) == sorted(students)  # the killed one's student graded again
    assert leaders and _left_in(leaders) == []  # neither zombie nor orphan left, of any round


def test_a_first_grading_process_that_dies_before_forking_leaves_no_one_waiting(
    tmp_path: Path, tiny: Assignment
) -> None:
    # Collecting the checks kills it: the channels it held for the others close with it.
    checks = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    assignment_root = tmp_path / "assignment"
    shutil.copytree(tiny.root, assignment_root)
    (assignment_root / "checks" / "check_ex_tiny.py").write_text(checks)
    class_dir = make_class(tmp_path / "class", {"ann": CORRECT, "bob": WRONG, "cy": SLOW})
    script = (
        "import json, os, sys\n"
        "from pathlib import Path\n"
        "from grader import batch\n"
        "from grader.assignment import load_assignment\n"
        "leaders = []\n"
        "real_fork = batch.Zygote.fork_engines\n"
        "batch.Zygote.fork_engines = lambda self, channels: leaders.append(real_fork(self, channels)) or leaders[-1]\n"
        "result = batch.grade_class(Path(sys.argv[1]), Path(sys.argv[2]), load_assignment(Path(sys.argv[3])), jobs=3)\n"
        "print(json.dumps({'graded': len(result.reports), 'errors': list(result.errors), 'groups': leaders}))\n"
    )
    outcome = _in_a_process(
        script, class_dir, tmp_path / "out", assignment_root, hung="the batch hung after its first grading process died"
    )
    assert outcome["graded"] == 0
    assert outcome["errors"] == ["could not grade ann, bob, cy: its grading process died"]
    assert len(outcome["groups"]) == 2
    assert _left_in(outcome["groups"]) == []


def test_one_zygote_starts_a_bounded_number_of_grading_processes() -> None:
    from grader.errors import SandboxError
    from grader.sandbox.client import Zygote

    with pytest.raises(SandboxError, match="1 to 253 grading processes, not 0"):
        Zygote().fork_engines([])  # refused before any zygote is started


def test_unreadable_entries_get_a_reason_not_a_traceback(tmp_path: Path, tiny: Assignment) -> None:
    class_dir = make_class(tmp_path / "class", {"alice": CORRECT})
    (class_dir / "broken.zip").write_bytes(b"this is not a zip")
    (class_dir / "bad.ipynb").write_text('{"cells": [')
    (class_dir / "notes.txt").write_text("ignored: not a submission")
    out = tmp_path / "out"
    _, results = run_batch(class_dir, out, tiny)
    students = {s["student"]: s for s in json.loads(results)["students"]}
    assert set(students) == {"alice", "bad", "broken"}
    assert students["alice"]["score"] == 5.0
    assert "not a readable zip" in " ".join(students["broken"]["problems"])
    assert "not a valid notebook" in " ".join(students["bad"]["problems"])
    assert all(c["outcome"] == Outcome.NOT_ATTEMPTED.value for c in students["bad"]["checks"])


def test_class_zip_is_a_whole_class(tmp_path: Path, tiny: Assignment) -> None:
    import zipfile

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("export/alice/ex_tiny.py", CORRECT)
        z.writestr("export/bob.py", WRONG)
        z.writestr("../evil/ex_tiny.py", CORRECT)  # zip-slip: ignored
    with open_roster(archive) as roster:
        assert sorted(student.id for student in roster.students) == ["alice", "bob"]
    assert not (tmp_path / "evil").exists()
    with pytest.raises(UsageError, match="does not exist"), open_roster(tmp_path / "missing"):
        pass


def test_zygote_death_mid_batch_is_survived(tiny: Assignment) -> None:
    def jobs():  # type: ignore[no-untyped-def]
        for index in range(3):
            if index == 1:
                grader.zygote._proc.kill()  # type: ignore[union-attr]
                grader.zygote._proc.wait()  # type: ignore[union-attr]
            yield Job(build_submission({"ex_tiny.py": CORRECT.encode()}, tiny, name=f"s{index}"), tiny.names)

    reports: list[Report] = []
    with Grader(tiny) as grader:
        grader.run(jobs(), reports.append)
    assert [r.score for r in reports] == [5.0, 5.0, 5.0]


def test_zygote_that_cannot_start_is_a_clear_error_not_a_hang(tmp_path: Path, tiny: Assignment) -> None:
    # Enough queued submissions to fill the task pipe: with no engine left to
    # read them, the grader once hung at exit waiting for the queue to drain.
    padding = "# " + "x" * 4000 + "\n"
    class_dir = make_class(tmp_path / "class", {f"s{i:03d}": f"{padding}# {i}\n{CORRECT}" for i in range(60)})
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from grader.sandbox import client\n"
        "client.ZYGOTE_MODULE = 'grader.sandbox.no_such_zygote'\n"
        "from grader.assignment import load_assignment\n"
        "from grader.batch import grade_class\n"
        "result = grade_class(Path(sys.argv[1]), Path(sys.argv[2]), load_assignment(Path(sys.argv[3])), jobs=2)\n"
        "print(json.dumps({'graded': len(result.reports), 'errors': list(result.errors)}))\n"
    )
    outcome = _in_a_process(
        script, class_dir, tmp_path / "out", tiny.root, hung="the grader hung after its zygote failed to start"
    )
    assert outcome["graded"] == 0
    (error,) = outcome["errors"]
    assert "could not grade s000, s001" in error
    assert "No module named grader.sandbox.no_such_zygote" in error  # the zygote's own last words


def test_the_batch_parent_never_imports_torch(tmp_path: Path, tiny: Assignment) -> None:
    # The zygote forks the grading processes torch-warm; a parent that imported
    # torch too would pay a second 1.2 s import per batch.
    class_dir = make_class(tmp_path / "class", {"ann": CORRECT, "bob": CORRECT.replace("x + x", "x")})
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from grader.assignment import load_assignment\n"
        "from grader.batch import grade_class\n"
        "result = grade_class(Path(sys.argv[1]), Path(sys.argv[2]), load_assignment(Path(sys.argv[3])), jobs=2)\n"
        "scores = {r.student: r.score for r in result.reports}\n"
        "print(json.dumps({'scores': scores, 'torch': 'torch' in sys.modules, 'errors': list(result.errors)}))\n"
    )
    outcome = _in_a_process(script, class_dir, tmp_path / "out", tiny.root)
    assert outcome == {"scores": {"ann": 5.0, "bob": 2.0}, "torch": False, "errors": []}


def test_each_grading_process_shares_one_cpu_with_its_workers(tmp_path: Path, tiny: Assignment) -> None:
    # Every call is a hand-over between a grading process and its worker: on one
    # CPU it is a context switch, not a cross-CPU wake-up.
    allowed = sorted(os.sched_getaffinity(0))
    printing = "    print(sorted(os.sched_getaffinity(0)))\n    return x + x"
    spy = "import os\n" + CORRECT.replace("    return x + x", printing)
    class_dir = make_class(tmp_path / "class", {"ann": spy, "bob": spy})
    result = grade_class(class_dir, tmp_path / "out", tiny, jobs=len(allowed))
    seen = {c.output.strip() for r in result.reports for c in r.checks if c.output}
    assert seen, "the spy printed nothing"
    assert seen <= {f"[{cpu}]" for cpu in allowed}


def test_worker_killed_mid_call_fails_only_that_call(tiny_grader: Grader, tiny: Assignment) -> None:
    source = b"import os, signal\ndef double(x):\n    os.kill(os.getpid(), signal.SIGKILL)\n\n" + (
        b"def shout(text):\n    return text.upper() + '!'\n"
    )
    report = tiny_grader.grade(build_submission({"ex_tiny.py": source}, tiny, name="k"))
    outcomes = {c.name: c.outcome for c in report.checks}
    assert outcomes["double_values"] is Outcome.ERROR
    assert outcomes["shout"] is Outcome.PASSED


def test_atomic_write_replaces_a_killed_runs_leftover_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    leftover = tmp_path / f".report.html.{os.getpid()}.tmp"  # a run of this pid killed mid-write
    leftover.write_text("half a page")
    old_umask = os.umask(0o077)
    try:
        write_atomic(target, "<p>new</p>", durable=False)
    finally:
        os.umask(old_umask)
    assert target.read_text() == "<p>new</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    assert target.stat().st_mode & 0o777 == 0o644  # readable by a web server whatever the umask


def test_unwritable_output_is_a_clear_error_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_atomic(blocker / "sub" / "report.html", "<p>")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputError, match="No space left"):
        write_atomic(tmp_path / "report.html", "<p>")
    assert list(tmp_path.iterdir()) == [blocker]


def test_a_warning_students_outputs_are_byte_identical_run_after_run(tmp_path: Path, tiny: Assignment) -> None:
    # The warning names the file it came from, in a scratch folder with a random name.
    warning = "import warnings\n" + CORRECT.replace(
        "    return x + x", "    warnings.warn('careful')\n    return x + x"
    )
    class_dir = make_class(tmp_path / "class", {"wary": warning, "plain": CORRECT})
    runs = [run_batch(class_dir, tmp_path / f"out{i}", tiny)[1] for i in (1, 2)]
    assert runs[0] == runs[1]
    assert (tmp_path / "out1" / "wary" / "result.json").read_bytes() == (
        tmp_path / "out2" / "wary" / "result.json"
    ).read_bytes()
    (wary,) = [s for s in json.loads(runs[0])["students"] if s["student"] == "wary"]
    output = " ".join(c.get("output", "") for c in wary["checks"])
    assert "ex_tiny.py:3: UserWarning: careful" in output
    assert "grader-" not in output and "/w-" not in output
