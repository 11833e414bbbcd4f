"""The shipped JSON Schemas: valid, in step with the result model, open where other versions add, closed elsewhere.

That every JSON output of the test suite matches them is held by the
``json_results_match_schema`` fixture of ``conftest.py``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import schema_errors
from jsonschema import Draft202012Validator

import grader
from grader.models import CheckResult, ClassReport, Location, Outcome, Report
from grader.roster import LAYOUTS
from grader.schemas import SCHEMA_FILES, load_schema


def a_report() -> Report:
    checks = (
        CheckResult("ex05", "apply_softmax", "softmax_rows", Outcome.PASSED, points=1, max_points=1),
        CheckResult(
            "ex05",
            "apply_softmax",
            "softmax_large",
            Outcome.FAILED,
            points=0,
            max_points=1,
            message="expected 1, got nan",
            hint="subtract the maximum",
            location=Location("ex05.py", 10),
        ),
        CheckResult("ex06", "forward_pass", "forward", Outcome.NOT_ATTEMPTED, points=0, max_points=2),
    )
    return Report(student="ben", checks=checks, not_submitted=("ex06",), assignment="PyTorch")


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_each_schema_is_valid_draft_2020_12_and_ships_in_the_package(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert (Path(grader.__file__).parent / "schemas" / SCHEMA_FILES[name]).is_file()


def test_a_report_and_a_class_match_their_schemas() -> None:
    report = a_report()
    assert schema_errors("report", json.loads(json.dumps(report.to_dict()))) == []
    assert schema_errors("report", report.to_dict(timings=False)) == []
    results = ClassReport("PyTorch", (report,), layout="canvas").to_dict()
    assert schema_errors("results", results) == []


def test_every_outcome_is_in_the_schema_and_deferred_is_reserved() -> None:
    enum = set(load_schema("report")["$defs"]["outcome"]["enum"])
    assert {outcome.value for outcome in Outcome} <= enum
    assert enum - {outcome.value for outcome in Outcome} <= {"deferred"}
    data = a_report().to_dict()
    data["checks"][2]["outcome"] = "deferred"
    assert schema_errors("report", data) == []


def test_every_layout_is_in_the_schema() -> None:
    enum = load_schema("results")["properties"]["layout"]["enum"]
    assert set(enum) == {*LAYOUTS, ""}


def mutated(data: dict[str, Any], change: str) -> dict[str, Any]:
    data = copy.deepcopy(data)
    check = data["checks"][1]
    if change == "unknown outcome":
        check["outcome"] = "skipped"
    elif change == "extra check field":
        check["secret"] = "the reference's value"
    elif change == "missing check field":
        del check["hint"]
    elif change == "bad location":
        check["location"] = {"file": "ex05.py"}
    elif change == "negative points":
        check["points"] = -1
    elif change == "missing score":
        del data["score"]
    return data


@pytest.mark.parametrize(
    "change",
    ["unknown outcome", "extra check field", "missing check field", "bad location", "negative points", "missing score"],
)
def test_a_report_is_closed_where_readers_rely_on_it(change: str) -> None:
    assert schema_errors("report", mutated(a_report().to_dict(), change)) != []


def test_new_top_level_fields_are_allowed_for_later_versions() -> None:
    data = {**a_report().to_dict(), "copy": "student"}
    assert schema_errors("report", data) == []
    results = {**ClassReport("PyTorch", (a_report(),), layout="folder").to_dict(), "roster": []}
    assert schema_errors("results", results) == []


def test_a_class_is_closed_on_its_checks_and_enums() -> None:
    results = ClassReport("PyTorch", (a_report(),), layout="folder").to_dict()
    for key, value in (("layout", "dropbox"), ("checks", [{**results["checks"][0], "median": 1}])):
        assert schema_errors("results", {**results, key: value}) != [], key
    broken_student = copy.deepcopy(results)
    broken_student["students"][0]["checks"][0]["outcome"] = "skipped"
    assert schema_errors("results", broken_student) != []
