"""Tests for the PrairieLearn and Autolab formats: read as the platforms read them, they agree with the JSON result."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import jsonschema
import pytest
from test_render_formats import EVIL, RAW_CONTROL, SECRET, make_report

from grader.models import CheckResult, Location, Outcome, Report
from grader.render import REPORT_FORMATS
from grader.render.autolab import render_autolab
from grader.render.escape import visible
from grader.render.prairielearn import render_prairielearn

REPORT = make_report()

# PrairieLearn's "External Grading" page: the fields its results element and grading job read.
PRAIRIELEARN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["gradable", "score"],
    "properties": {
        "gradable": {"type": "boolean"},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "message": {"type": "string"},
        "output": {"type": "string"},
        "format_errors": {"type": "array", "items": {"type": "string"}},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "points", "max_points"],
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "points": {"type": "number"},
                    "max_points": {"type": "number"},
                    "message": {"type": "string"},
                    "output": {"type": "string"},
                },
            },
        },
    },
}


def read_autoresult(text: str) -> dict[str, Any]:
    """What Autolab does: the last line of the output is the JSON autoresult."""
    data: dict[str, Any] = json.loads(text.rstrip("\n").splitlines()[-1])
    return data


@pytest.mark.parametrize("render", [render_prairielearn, render_autolab])
def test_platform_formats_are_inert_and_keep_hidden_checks_hidden(render: Any) -> None:
    out = render(REPORT)
    assert SECRET not in out
    assert not RAW_CONTROL.search(out), RAW_CONTROL.findall(out)


def test_both_are_formats_of_check_and_grade() -> None:
    assert REPORT_FORMATS["prairielearn"][0] is render_prairielearn
    assert REPORT_FORMATS["autolab"][0] is render_autolab


def test_prairielearn_results_follow_the_documented_schema() -> None:
    data = json.loads(render_prairielearn(REPORT))
    jsonschema.validate(data, PRAIRIELEARN_SCHEMA)
    assert data["gradable"] is True
    assert "format_errors" not in data
    assert data["score"] * REPORT.max_score == pytest.approx(REPORT.score)  # 2/8
    tests = data["tests"]
    assert len(tests) == len(REPORT.checks)
    assert sum(t["points"] for t in tests) == REPORT.score
    assert sum(t["max_points"] for t in tests) == REPORT.max_score
    failed = next(t for t in tests if t["name"] == "add: test_add_tensors")
    assert failed["description"] == "adds two tensors"
    assert failed["message"].startswith("Failed\nexpected tensor([2.]), got")
    assert "Hint: broadcast the second argument" in failed["message"]
    assert visible(EVIL) in failed["output"]
    passed = next(t for t in tests if t["name"] == "add: test_add_ints")
    assert passed["message"] == ""
    hidden = next(t for t in tests if t["name"] == "softmax: test_softmax_hidden")
    assert hidden == {
        "name": "softmax: test_softmax_hidden",
        "description": "",
        "points": 0.0,
        "max_points": 1.5,
        "message": "Failed",
        "output": "",
    }
    assert "2/8" in data["message"]
    assert data["output"] == visible(REPORT.problems[0])


def _not_attempted(report: Report, *, located: bool) -> Report:
    location = Location("ex01_basics.py", 1) if located else None
    checks = tuple(
        dataclasses.replace(
            check,
            outcome=Outcome.NOT_ATTEMPTED,
            points=0.0,
            message="ex01_basics.py was not submitted",
            location=location,
        )
        for check in report.checks
    )
    return dataclasses.replace(report, checks=checks, problems=())


def test_prairielearn_refuses_a_submission_with_nothing_to_grade() -> None:
    data = json.loads(render_prairielearn(_not_attempted(REPORT, located=False)))
    jsonschema.validate(data, PRAIRIELEARN_SCHEMA)
    assert data["gradable"] is False
    assert data["score"] == 0.0  # PrairieLearn requires a number even so
    (error,) = data["format_errors"]
    assert "ex01_basics.py, ex02_activations.py" in error and "(for example add)" in error
    # The submission's own problems (an unreadable notebook) are the reason, when there are some.
    broken = dataclasses.replace(_not_attempted(REPORT, located=False), problems=(f"hw.ipynb: not JSON {EVIL}",))
    assert json.loads(render_prairielearn(broken))["format_errors"] == [visible(f"hw.ipynb: not JSON {EVIL}")]


def test_prairielearn_grades_untouched_stubs_as_zero() -> None:
    data = json.loads(render_prairielearn(_not_attempted(REPORT, located=True)))
    assert data["gradable"] is True
    assert data["score"] == 0.0
    assert len(data["tests"]) == len(REPORT.checks)


def test_autolab_autoresult_is_the_last_line_with_one_score_per_exercise() -> None:
    out = render_autolab(REPORT)
    result = read_autoresult(out)
    assert list(result["scores"]) == ["ex01_basics", "ex02_activations"]
    assert result["scores"] == {"ex01_basics": 1.5, "ex02_activations": 0.5}
    assert sum(result["scores"].values()) == REPORT.score
    assert result["scoreboard"] == [REPORT.score, 1.5, 0.5]
    # The feedback above it is the text report.
    assert "Score: 2/8" in out
    assert "What to fix" in out


def test_autolab_student_output_cannot_forge_the_autoresult() -> None:
    forged = '{"scores": {"ex01_basics": 100, "ex02_activations": 100}}'
    check = CheckResult(
        "ex01_basics", "add", "test_add", Outcome.FAILED, 0.0, 1.0, message=f"wrong\n{forged}", output=f"{forged}\n"
    )
    report = dataclasses.replace(REPORT, checks=(check,), problems=(forged,))
    result = read_autoresult(render_autolab(report))
    assert result == {"scores": {"ex01_basics": 0.0}, "scoreboard": [0.0, 0.0]}


def test_prairielearn_results_stay_under_its_one_megabyte_limit() -> None:
    noisy = tuple(
        CheckResult(
            "ex01_basics",
            "add",
            f"test_add_{i}",
            Outcome.ERROR,
            0.0,
            1.0,
            message="Traceback\n" + "  line\n" * 2000,
            output="x" * 65536,
        )
        for i in range(300)
    )
    report = dataclasses.replace(REPORT, checks=(*REPORT.checks, *noisy))
    out = render_prairielearn(report)
    assert len(out.encode()) <= 1_000_000
    data = json.loads(out)
    assert len(data["tests"]) == len(report.checks)
    assert data["score"] * report.max_score == pytest.approx(report.score)
    assert max(len(test["output"]) for test in data["tests"]) < 1100  # cut to 1000 characters, not dropped
    # A small report keeps its outputs whole.
    outputs = [test["output"] for test in json.loads(render_prairielearn(REPORT))["tests"]]
    assert f"debug {visible(EVIL)}" in outputs
