"""A student's files are written once per report, and again only when they are no longer what was written."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import grader.output
from grader.errors import OutputLocked
from grader.models import CheckResult, ClassReport, Outcome, Report, SimilarCluster, UnattributedFile
from grader.output import results_json, stamp, write_class_outputs, write_student_outputs

REPORT = Report(
    student="alice",
    checks=(CheckResult("ex01", "add", "check_add", Outcome.PASSED, 1.0, 1.0),),
    exercise_titles={"ex01": "Tensors"},
    assignment="A",
)


def written_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of every file ``write_atomic`` writes from now on."""
    names: list[str] = []
    real = grader.output.write_atomic

    def spy(path: Path, data: str | bytes, *, durable: bool = True) -> None:
        names.append(Path(path).name)
        real(path, data, durable=durable)

    monkeypatch.setattr(grader.output, "write_atomic", spy)
    return names


def test_current_files_are_neither_rendered_nor_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamps = write_student_outputs(tmp_path, REPORT)
    assert sorted(stamps) == ["report.html", "result.json"]
    assert all(stamps[name] == stamp(tmp_path / name) for name in stamps)

    def forbidden(report: Report) -> str:
        raise AssertionError("rendered again")

    monkeypatch.setattr(grader.output, "render_html", forbidden)
    names = written_files(monkeypatch)
    assert write_student_outputs(tmp_path, REPORT, written=stamps) == stamps
    assert names == []


def test_deleted_edited_or_replaced_files_are_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamps = write_student_outputs(tmp_path, REPORT)
    original = (tmp_path / "result.json").read_bytes()
    (tmp_path / "report.html").unlink()
    (tmp_path / "result.json").write_bytes(original)  # the same bytes, but not the file that was written
    names = written_files(monkeypatch)
    again = write_student_outputs(tmp_path, REPORT, written=stamps)
    assert sorted(names) == ["report.html", "result.json"]
    assert (tmp_path / "result.json").read_bytes() == original and (tmp_path / "report.html").is_file()
    assert again == {name: stamp(tmp_path / name) for name in again}


def test_a_format_asked_for_later_is_written_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamps = write_student_outputs(tmp_path, REPORT)
    names = written_files(monkeypatch)
    more = write_student_outputs(tmp_path, REPORT, formats=("text", "json"), written=stamps)
    assert names == ["report.txt"]  # "json" is result.json, already current
    assert sorted(more) == ["report.html", "report.txt", "result.json"]


def test_a_symlink_or_folder_in_place_of_a_file_is_not_current(tmp_path: Path) -> None:
    stamps = write_student_outputs(tmp_path, REPORT)
    (tmp_path / "report.html").unlink()
    (tmp_path / "report.html").symlink_to(tmp_path / "result.json")
    assert stamp(tmp_path / "report.html") is None
    write_student_outputs(tmp_path, REPORT, written=stamps)
    assert not (tmp_path / "report.html").is_symlink() and "<html" in (tmp_path / "report.html").read_text()


# -- the class files, from what each student's files were written from ---------------


def a_class() -> ClassReport:
    """Three students (one named, one with text JSON escapes), a cluster, an unattributed file and a clash."""
    tricky = 'Zoë "Z" \\ \u202e\x00, "students": []'
    checks = (
        CheckResult("ex01", "add", "check_add", Outcome.FAILED, 0.0, 1.0, message=tricky, duration_s=0.25),
        CheckResult("ex01", "add", "check_big", Outcome.PASSED, 2.0, 2.0, hidden=True, duration_s=1.5),
    )
    reports = tuple(
        dataclasses.replace(REPORT, student=student, checks=checks, name=name, duration_s=3.25)
        for student, name in (("alice", ""), ("bob", tricky), ("carol", "Carol"))
    )
    return ClassReport(
        "A",
        reports,
        exercise_titles={"ex01": "Tensors"},
        similar=(SimilarCluster(("alice", "bob"), 0.9, ("ex01",)),),
        unattributed=(UnattributedFile("stray.txt", "not a student's"),),
        clashes=(tricky,),
        layout="canvas",
        fingerprint="f" * 64,
    )


@pytest.mark.parametrize("shape", ["full", "bare", "empty"])
def test_results_json_is_the_class_report_encoded_whole(tmp_path: Path, shape: str) -> None:
    result = a_class()
    if shape == "bare":  # no clashes (the key is then left out), nothing unattributed, no cluster
        result = dataclasses.replace(result, similar=(), unattributed=(), clashes=())
    elif shape == "empty":
        result = dataclasses.replace(result, reports=())
    expected = json.dumps(result.to_dict(), ensure_ascii=True) + "\n"
    write_class_outputs(tmp_path, result)
    assert (tmp_path / "results.json").read_text() == expected
    assert "".join(results_json(result)) == expected


def test_results_json_reuses_what_each_students_result_json_was_written_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = a_class()
    for report in result.reports:
        write_student_outputs(tmp_path / report.student, report)

    def forbidden(self: Report, *, timings: bool = True) -> dict[str, object]:
        raise AssertionError("a report turned into a dict again for results.json")

    with monkeypatch.context() as patched:
        patched.setattr(Report, "to_dict", forbidden)
        write_class_outputs(tmp_path, result)
    data = json.loads((tmp_path / "results.json").read_text())
    for report, entry in zip(result.reports, data["students"], strict=True):
        assert (tmp_path / report.student / "result.json").read_text() == json.dumps(entry, ensure_ascii=True) + "\n"
    assert (tmp_path / "results.json").read_text() == json.dumps(result.to_dict(), ensure_ascii=True) + "\n"


def test_a_file_given_in_pieces_is_written_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grader.output, "_WRITE_BYTES", 10)  # several writes, a piece split across none
    pieces = ["{", '"é": ', "x" * 25, "", "}\n"]
    grader.output.write_atomic(tmp_path / "f.json", iter(pieces))
    assert (tmp_path / "f.json").read_text(encoding="utf-8") == "".join(pieces)


def test_pieces_that_fail_halfway_leave_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grader.output, "_WRITE_BYTES", 4)
    target = tmp_path / "results.json"
    target.write_text("old")

    def pieces() -> Iterator[str]:
        yield "new and longer than a write"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grader.output.write_atomic(target, pieces())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    assert target.read_text() == "old"


# -- interruptions and concurrent runs ----------------------------------------------


def test_an_interrupted_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "results.json"
    target.write_text("old")

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C between the write and the rename

    monkeypatch.setattr(grader.output.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        grader.output.write_atomic(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
    assert target.read_text() == "old"


def test_the_next_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    out = tmp_path / "out"
    leftovers = [out / ".results.json.999999.tmp", out / "alice" / ".report.html.4242.tmp"]
    leftovers.append(out / grader.output.CACHE_DIR / "similar" / ".abc.json.17.tmp")
    kept = [out / "alice" / "notes.tmp", out / "alice" / "result.json"]
    for path in [*leftovers, *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    with grader.output.claim_output(out):
        assert not any(path.exists() for path in leftovers)
    assert all(path.exists() for path in kept)


def test_a_second_run_on_the_same_folder_is_refused_clearly(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with grader.output.claim_output(out):
        refused = pytest.raises(OutputLocked, match=rf"another grader run \(pid {os.getpid()}\) is writing to {out}")
        with refused, grader.output.claim_output(out):
            pass
        assert OutputLocked.exit_code not in (0, 1)
    with grader.output.claim_output(out):  # released when the first run ends: never stale
        pass


def test_the_cli_refuses_a_second_grade_into_one_folder(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from grader.cli import cli

    out = tmp_path / "out"
    with grader.output.claim_output(out):
        result = CliRunner().invoke(cli, ["grade", "--out", str(out)])
    assert result.exit_code == OutputLocked.exit_code, result.output
    assert "output folder in use: another grader run" in result.output
    assert not (out / "results.json").exists()
