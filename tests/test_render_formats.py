"""Tests for the CI and LMS formats: each one read back by a real consumer agrees with the JSON result."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml
from markdown_it import MarkdownIt

from grader.models import CheckResult, Location, Outcome, Report
from grader.render.classroom import classroom_output_line, render_classroom
from grader.render.escape import neutralize_commands, visible
from grader.render.github import escape_data, render_annotations, render_step_summary
from grader.render.gradescope import render_gradescope
from grader.render.junit import render_junit
from grader.render.markdown import render_markdown

SCRIPT = "<script>alert(1)</script>"
INJECT = "\n::set-output name=x::y"
EVIL = f"{SCRIPT}{INJECT} %0A \x1b[31mred \u202egnp.exe ##[error]legacy | *bold* [link](http://evil) @everyone"
SECRET = "SECRET-EXPECTED-tensor([0.25])"
# Raw C0 (except tab and newline), DEL, C1 and the bidi/zero-width characters ``visible`` spells out.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def make_report(student: str = f"Mallory {EVIL}") -> Report:
    """One check of each outcome, partial credit, a notebook location and a hidden check full of secrets."""
    checks = (
        CheckResult("ex01_basics", "add", "test_add_ints", Outcome.PASSED, 1.0, 1.0, output=f"debug {EVIL}"),
        CheckResult(
            "ex01_basics",
            "add",
            "test_add_tensors",
            Outcome.FAILED,
            0.5,
            2.0,
            description="adds two tensors",
            message=f"expected tensor([2.]), got {EVIL}",
            hint="broadcast the second argument",
            output=f"printed {EVIL}",
            location=Location("ex01_basics.py", 3),
        ),
        CheckResult(
            "ex02_activations",
            "softmax",
            "test_softmax_rows",
            Outcome.ERROR,
            0.0,
            1.0,
            message=f"ZeroDivisionError: {EVIL}",
            location=Location("submission.ipynb", 2, cell=4),
        ),
        CheckResult("ex02_activations", "relu", "test_relu", Outcome.TIMEOUT, 0.0, 1.0, message="timed out after 5 s"),
        CheckResult(
            "ex02_activations",
            "gelu",
            "test_gelu",
            Outcome.NOT_ATTEMPTED,
            0.0,
            1.0,
            message="gelu is not implemented yet",
            location=Location("ex02_activations.py", 20),
        ),
        CheckResult(
            "ex02_activations",
            "softmax",
            "test_softmax_hidden",
            Outcome.FAILED,
            0.0,
            1.5,
            hidden=True,
            description=f"softmax of {SECRET}",
            message=SECRET,
            hint=SECRET,
            output=f"{SECRET} {EVIL}",
            location=Location(f"{SECRET}.py", 9),
        ),
        CheckResult("ex02_activations", "softmax", "test_softmax_shape", Outcome.PASSED, 0.5, 0.5),
    )
    return Report(
        student=student,
        checks=checks,
        problems=(f"notebook cell 3 skipped: {EVIL}",),
        exercise_titles={"ex01_basics": "Basics", "ex02_activations": "Activations"},
        assignment="Week 3: tensors",
        duration_s=1.6,
        grader_version="0.1.0",
    )


REPORT = make_report()
COUNTS = REPORT.counts()


def all_outputs(report: Report) -> dict[str, str]:
    classroom = base64.b64decode(render_classroom(report)).decode("utf-8")
    return {
        "junit": render_junit(report),
        "gradescope": render_gradescope(report),
        "annotations": render_annotations(report),
        "markdown": render_markdown(report),
        "classroom (decoded)": classroom,
        "classroom": classroom_output_line(report),
    }


@pytest.mark.parametrize("fmt", list(all_outputs(REPORT)))
def test_every_format_is_inert_and_keeps_hidden_checks_hidden(fmt: str) -> None:
    out = all_outputs(REPORT)[fmt]
    assert SECRET not in out
    assert not RAW_CONTROL.search(out), RAW_CONTROL.findall(out)
    if fmt in ("junit", "markdown"):  # the formats a consumer reads as markup
        assert SCRIPT not in out


def test_score_and_check_count_are_those_of_the_json_result() -> None:
    assert REPORT.score == 2.0
    assert REPORT.max_score == 8.0
    assert len(REPORT.checks) == 7


# --- JUnit ------------------------------------------------------------------------


def _case_properties(case: Any) -> dict[str, str]:
    # junitparser reads a suite's properties but has no API for a testcase's (pytest's record_property).
    props = case._elem.find("properties")
    return {p.get("name"): p.get("value") for p in props.iter("property")}


def test_junit_reads_back_with_junitparser(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(render_junit(REPORT), encoding="utf-8")
    xml = JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == 1
    suite = suites[0]
    assert suite.name == visible(REPORT.student)
    assert suite.tests == len(REPORT.checks)
    assert suite.failures == COUNTS[Outcome.FAILED] + COUNTS[Outcome.NOT_ATTEMPTED]
    assert suite.errors == COUNTS[Outcome.ERROR] + COUNTS[Outcome.TIMEOUT]
    assert suite.skipped == 0
    suite_props = {p.name: p.value for p in suite.properties()}
    assert float(suite_props["score"]) == REPORT.score
    assert float(suite_props["max_score"]) == REPORT.max_score

    cases = list(suite)
    assert len(cases) == len(REPORT.checks)
    assert sum(float(_case_properties(c)["points"]) for c in cases) == REPORT.score
    by_name = {(c.classname, c.name): c for c in cases}
    for check in REPORT.checks:
        case = by_name[(check.exercise, f"{check.function}::{check.name}")]
        results = case.result
        if check.outcome.ok:
            assert case.is_passed
        elif check.outcome in (Outcome.ERROR, Outcome.TIMEOUT):
            assert isinstance(results[0], Error)
        else:
            assert isinstance(results[0], Failure)
            assert results[0].type == check.outcome.value  # not_attempted is a failure, never skipped
        if check.hidden:
            assert case.system_out is None
    failed = by_name[("ex01_basics", "add::test_add_tensors")]
    assert failed.result[0].message == visible(REPORT.checks[1].message).split("\n")[0]
    assert "Hint: broadcast the second argument" in failed.result[0].text
    assert visible(EVIL) in failed.system_out


def test_junit_batch_has_one_suite_per_student() -> None:
    reports = [make_report("alice"), make_report("bob")]
    xml = JUnitXml.fromstring(render_junit(reports).encode("utf-8"))
    assert [s.name for s in xml] == ["alice", "bob"]
    assert sum(s.tests for s in xml) == 2 * len(REPORT.checks)


def test_junit_drops_characters_xml_cannot_carry() -> None:
    report = make_report(student="a\x00b\x1b\ufffe\uffffc")
    xml = JUnitXml.fromstring(render_junit(report).encode("utf-8"))
    assert next(iter(xml)).name == "a\\x00b\\x1b\\ufffe\\uffffc"


# --- Gradescope ----------------------------------------------------------------------

_VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
_FORMAT = {"enum": ["text", "simple_format", "html", "md", "ansi"]}
# Transcribed from Gradescope's "Autograder Specifications" (results.json), every field optional.
GRADESCOPE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["score"]}, {"required": ["tests"]}],
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "integer", "minimum": 0},
        "output": {"type": "string"},
        "output_format": _FORMAT,
        "test_output_format": _FORMAT,
        "test_name_format": _FORMAT,
        "visibility": _VISIBILITY,
        "stdout_visibility": _VISIBILITY,
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": _FORMAT,
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": _FORMAT,
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": _VISIBILITY,
                    "extra_data": {"type": "object"},
                },
            },
        },
        "leaderboard": {"type": "array"},
    },
}


def test_gradescope_results_follow_the_documented_schema() -> None:
    data = json.loads(render_gradescope(REPORT))
    jsonschema.Draft7Validator.check_schema(GRADESCOPE_SCHEMA)
    jsonschema.validate(data, GRADESCOPE_SCHEMA)
    assert data["score"] == REPORT.score
    assert data["execution_time"] == 2
    assert data["stdout_visibility"] == "hidden"
    tests = data["tests"]
    assert len(tests) == len(REPORT.checks)
    assert sum(t["score"] for t in tests) == REPORT.score
    assert sum(t["max_score"] for t in tests) == REPORT.max_score
    assert [t["number"] for t in tests] == ["1.1", "1.2", "2.1", "2.2", "2.3", "2.4", "2.5"]
    assert sum(t["status"] == "passed" for t in tests) == COUNTS[Outcome.PASSED]
    hidden = [t for t in tests if t["visibility"] != "visible"]
    assert len(hidden) == 1
    assert hidden[0]["visibility"] == "after_published"
    assert "output" not in hidden[0]
    assert hidden[0]["status"] == "failed"
    failed = next(t for t in tests if t["name"] == "add: adds two tensors")
    assert failed["tags"] == ["ex01_basics", "add"]
    assert visible(EVIL) in failed["output"]
    assert "2/8" in data["output"]


# --- GitHub Classroom ------------------------------------------------------------------


def reporter_totals(env: dict[str, str], runners: str) -> tuple[float, float, list[dict[str, Any]]]:
    """Re-implement autograding-grading-reporter: parseRunnerResults, then NotifyClassroom's sums."""
    total = maximum = 0.0
    tests: list[dict[str, Any]] = []
    for runner in runners.split(","):
        encoded = env[f"{runner.strip().upper()}_RESULTS"]
        results = json.loads(base64.b64decode(encoded).decode("utf-8"))
        tests += results["tests"]
        if not results.get("max_score"):
            continue
        maximum += results["max_score"]
        for test in results["tests"]:
            total += test["score"]  # undefined here would make the JS total NaN
    return total, maximum, tests


def test_classroom_result_decodes_like_the_grading_reporter(tmp_path: Path) -> None:
    output_file = tmp_path / "github_output"
    with output_file.open("a", encoding="utf-8") as handle:
        handle.write(classroom_output_line(REPORT))
    line = output_file.read_text(encoding="utf-8")
    assert re.fullmatch(r"result=[A-Za-z0-9+/]+={0,2}\n", line)
    outputs = dict(entry.split("=", 1) for entry in line.splitlines())
    env = {"GRADER_RESULTS": outputs["result"]}

    total, maximum, tests = reporter_totals(env, "grader")
    assert total == REPORT.score
    assert maximum == REPORT.max_score
    assert len(tests) == len(REPORT.checks)
    results = json.loads(base64.b64decode(outputs["result"]))
    assert results["version"] == 1
    assert results["status"] == "fail"
    assert [t["status"] for t in tests] == ["pass", "fail", "error", "error", "fail", "fail", "pass"]
    for test in tests:
        # The reporter console.logs names and messages: nothing there may read as a workflow command.
        for text in (test["name"], test["message"]):
            assert "::" not in text
            assert "##[" not in text
    notebook = tests[2]
    assert notebook["filename"] == "submission.ipynb"
    assert "line_no" not in notebook
    assert tests[1]["line_no"] == 3


def test_classroom_status_passes_when_every_check_passes() -> None:
    report = Report("ok", (CheckResult("ex", "f", "t", Outcome.PASSED, 1.0, 1.0),))
    results = json.loads(base64.b64decode(render_classroom(report)))
    assert results["status"] == "pass"
    assert results["tests"][0]["message"] == ""


# --- GitHub annotations --------------------------------------------------------------


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """Parse one line the way the Actions runner's ActionCommand.TryParseV2 does, and unescape it."""
    assert line.startswith("::")
    end = line.index("::", 2)
    head, data = line[2:end], line[end + 2 :]
    command, _, props = head.partition(" ")
    properties: dict[str, str] = {}
    for pair in filter(None, props.split(",")):
        key, _, value = pair.partition("=")
        properties[key] = (
            value.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")
        )
    return command, properties, data.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def test_annotations_are_one_workflow_command_per_unpassed_check() -> None:
    out = render_annotations(REPORT)
    lines = out.splitlines()
    assert out.endswith("\n")
    assert len(lines) == len(REPORT.checks) - COUNTS[Outcome.PASSED]
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)
    parsed = [parse_command(line) for line in lines]
    assert [command for command, _, _ in parsed] == ["error", "error", "error", "warning", "error"]

    _, props, data = parsed[0]
    assert props["file"] == "ex01_basics.py"
    assert props["line"] == "3"
    assert props["title"] == "add: adds two tensors: failed"
    check = REPORT.checks[1]
    # What the student sees is the visible message, with "::" and "##[" broken up so no tool re-reads a command.
    expected = visible(f"{check.message}\nHint: {check.hint}").replace("::", ": :").replace("##[", "## [")
    assert data == expected
    assert "%0A" in data  # the student's literal "%0A" came back as text, not as a line break

    _, props, data = parsed[1]
    assert props["file"] == "submission.ipynb"
    assert "line" not in props
    assert data.startswith("In submission.ipynb, cell 4, line 2:")

    _, props, data = parsed[4]
    assert set(props) == {"title"}  # hidden: no file, no line
    assert data == "Hidden check test_softmax_hidden failed."


def test_annotations_cannot_be_split_by_student_text() -> None:
    hostile = "x\r\n::add-mask::y\n\r::stop-commands::tok\u2028::error::z\x85::warning::w"
    report = Report("s", (CheckResult("ex", "f", "t", Outcome.FAILED, 0.0, 1.0, message=hostile, hint=hostile),))
    out = render_annotations(report)
    assert out.count("\n") == 1
    assert out.count("::") == 2
    assert escape_data("100%\r\n") == "100%25%0D%0A"


def test_annotations_are_empty_when_everything_passed() -> None:
    report = Report("s", (CheckResult("ex", "f", "t", Outcome.PASSED, 1.0, 1.0),))
    assert render_annotations(report) == ""


def test_annotation_paths_are_relative_to_the_repository() -> None:
    _, props, _ = parse_command(render_annotations(REPORT, path_prefix="students/mallory").splitlines()[0])
    assert props["file"] == "students/mallory/ex01_basics.py"


# --- Markdown (PR comment and step summary) ------------------------------------------


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        #: Text inside each element that carries emphasis, by tag.
        self.emphasis: dict[str, list[str]] = {"em": [], "strong": []}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.open.append(tag)
        if tag in self.emphasis:
            self.emphasis[tag].append("")
        if tag == "tr":
            self.rows.append([])
        elif tag == "td":
            self.rows[-1].append("td")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        for tag, texts in self.emphasis.items():
            if tag in self.open:
                texts[-1] += data


def test_markdown_renders_safely_with_a_commonmark_parser() -> None:
    md = render_markdown(REPORT)
    assert render_step_summary(REPORT) == md
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    page = _Html()
    page.feed(rendered)
    assert "script" not in page.tags
    assert "a" not in page.tags  # the student's [link](...) stays text
    # Only our own markup: the bold score line and the "(hidden)" markers; the student's *bold* stays text.
    assert page.emphasis["strong"] == ["Score: 2/8 (25.0%)"]
    assert page.emphasis["em"] == ["(hidden)", "(hidden check)"]
    body_rows = [row for row in page.rows if row]
    assert len(body_rows) == len(REPORT.checks)
    assert all(len(row) == 3 for row in body_rows)  # a "|" in student text does not add a column
    text = "".join(page.text)
    assert SCRIPT in text  # shown as text...
    assert "<script" not in rendered  # ...never as markup
    assert "Score: 2/8 (25.0%)" in text
    assert neutralize_commands(visible(EVIL)).replace("\n", " ") in text
    assert "test_softmax_hidden" in text and SECRET not in text


def test_markdown_fits_in_a_pull_request_comment() -> None:
    noisy = tuple(
        CheckResult("ex", "f", f"t{i}", Outcome.FAILED, 0.0, 1.0, message="wrong", output="x" * 10_000)
        for i in range(40)
    )
    md = render_markdown(Report("s", noisy))
    assert len(md) < 65_536  # GitHub's limit for a comment body
    assert "more not shown here" in md
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert rendered.count("<tr>") == 1 + len(noisy)  # every check is still in the table
