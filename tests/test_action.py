"""action.yml and the example workflows: their structure, and the action's steps run locally.

The local run emulates what the runner does for a composite action's ``run:``
steps: ``bash --noprofile --norc -eo pipefail``, a fresh ``$GITHUB_OUTPUT`` per
step parsed into ``steps.<id>.outputs``, ``$GITHUB_STEP_SUMMARY``, the
``env:`` mappings with their ``${{ ... }}`` expressions evaluated, and each
step's ``if:``. Steps that install into or upload from a real runner
(``uses:`` steps and the ones in ``NOT_RUN_LOCALLY``) are not executed; their
conditions and ``with:`` values still are. The grader they would install is
this checkout, installed in the environment running the tests.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
ACTION_FILE = ROOT / "action.yml"
EXAMPLES_DIR = ROOT / "examples" / "workflows"
REQUIRED_OUTPUTS = {"score", "max-score", "percent", "result"}
#: Run steps that install into a real runner: never run by the tests.
NOT_RUN_LOCALLY = {"pip-cache", "install"}
REPORTER = "classroom-resources/autograding-grading-reporter@v1"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)
COMPARISON = re.compile(r"([\w.-]+)\s*(==|!=)\s*'([^']*)'")
STATUS_FUNCTIONS = {"always()", "!cancelled()"}


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path.name} is not a YAML mapping"
    return data


def triggers(workflow: dict[Any, Any]) -> Any:
    # YAML 1.1 reads an unquoted `on:` key as True.
    return workflow.get("on", workflow.get(True))


def steps_of(action: dict[str, Any]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = action["runs"]["steps"]
    return steps


def step_by_id(action: dict[str, Any], step_id: str) -> dict[str, Any]:
    matches = [step for step in steps_of(action) if step.get("id") == step_id]
    assert len(matches) == 1, f"action.yml has {len(matches)} steps with id {step_id!r}"
    return matches[0]


def pinned_torch() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [dep.split("==", 1)[1].strip() for dep in project["dependencies"] if re.match(r"torch\s*==", dep)]
    assert len(pins) == 1, "pyproject.toml pins torch exactly once"
    return str(pins[0])


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    return load_yaml(ACTION_FILE)


# --- (a) structure ------------------------------------------------------------------------------------------------


def test_action_is_composite_with_unique_step_ids(action: dict[str, Any]) -> None:
    assert action["runs"]["using"] == "composite"
    assert action["name"] and action["description"]
    ids = [step["id"] for step in steps_of(action) if "id" in step]
    assert len(ids) == len(set(ids)), f"duplicate step ids: {ids}"
    for step in steps_of(action):
        assert ("run" in step) != ("uses" in step), f"step {step.get('id')} needs exactly one of run/uses"


def test_every_run_step_names_its_shell(action: dict[str, Any]) -> None:
    for step in steps_of(action):
        if "run" in step:
            assert step.get("shell") == "bash", f"run step {step.get('id')!r} has no shell: bash"


def test_no_expression_inside_a_run_script(action: dict[str, Any]) -> None:
    """Inputs reach scripts through env: an inline ${{ inputs.x }} would be spliced into the shell source."""
    for step in steps_of(action):
        script = step.get("run", "")
        assert "${{" not in script, f"step {step.get('id')!r} has an expression inside run: (use env:)"
    assert "${{ inputs." not in "".join(step.get("run", "") for step in steps_of(action))


def test_python_never_imports_from_the_workspace(action: dict[str, Any]) -> None:
    """Run steps start in the student's checkout: `python -m x` or `python -` would put it first on sys.path."""
    for step in steps_of(action):
        code = "\n".join(line for line in step.get("run", "").splitlines() if not line.lstrip().startswith("#"))
        for call in re.findall(r"\bpython3?\b[^\n]*", code):
            if not call.startswith(("python -I ", "python3 -I ")):
                pytest.fail(f"step {step.get('id')!r} runs python without -I: {call}")


def test_inputs_and_outputs(action: dict[str, Any]) -> None:
    inputs = action["inputs"]
    expected = {"path", "fail-under", "python-version", "html-report", "grader-spec", "assignment", "timeout"}
    assert expected <= set(inputs)
    assert inputs["path"]["default"] == "."
    assert str(inputs["fail-under"]["default"]) == "0"
    assert str(inputs["python-version"]["default"]) == "3.11"
    assert inputs["html-report"]["default"] == "grader-report"
    assert inputs["grader-spec"]["default"] == "", "the default installs the action's own checkout"
    assert "student" in inputs["assignment"]["description"], "assignment must say it may not come from the student"

    text = ACTION_FILE.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", text))
    assert used == set(inputs), f"inputs defined but unused, or used but undefined: {used ^ set(inputs)}"

    outputs = action["outputs"]
    assert set(outputs) >= REQUIRED_OUTPUTS
    ids = {step.get("id") for step in steps_of(action)}
    for name, spec in outputs.items():
        match = re.fullmatch(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}", spec["value"])
        assert match, f"output {name} is not a step output"
        assert match.group(1) in ids, f"output {name} reads unknown step {match.group(1)}"
        assert spec.get("description")


def test_torch_pin_matches_pyproject(action: dict[str, Any]) -> None:
    pin = pinned_torch()
    text = ACTION_FILE.read_text(encoding="utf-8")
    found = re.findall(r"torch(?:==)?(\d+\.\d+\.\d+)", text)
    assert len(found) >= 2, "the install command and the cache key both name the torch version"
    assert set(found) == {pin}, f"action.yml pins torch {set(found)}, pyproject.toml {pin}"

    install = step_by_id(action, "install")["run"]
    assert f'"torch=={pin}"' in install or f"torch=={pin}" in install
    assert "--index-url https://download.pytorch.org/whl/cpu" in install, "install the CPU build, not PyPI's CUDA one"
    assert "$GITHUB_ACTION_PATH" in install, "by default the grader comes from the action's own checkout"
    assert "GRADER_SPEC" in step_by_id(action, "install")["env"]

    cache = step_by_id(action, "cache")
    assert cache["uses"].startswith("actions/cache@")
    assert f"torch{pin}" in cache["with"]["key"]
    assert "steps.pip-cache.outputs.dir" in cache["with"]["path"]
    setup = step_by_id(action, "setup-python")
    assert setup["uses"].startswith("actions/setup-python@")
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"


def test_grade_step_writes_every_ci_format_and_keeps_going(action: dict[str, Any]) -> None:
    grade = step_by_id(action, "grade")
    script = grade["run"]
    for needle in (
        "-f github",
        '"junit:',
        '"json:',
        '"classroom:',
        "--html",
        "--fail-under",
        "--assignment",
        "--timeout",
        '-- "$GRADER_PATH"',
        "exit-code=",
    ):
        assert needle in script, f"the grade step lacks {needle}"
    assert set(grade["env"]) >= {"GRADER_PATH", "GRADER_FAIL_UNDER", "GRADER_ASSIGNMENT", "GRADER_TIMEOUT"}
    assert "|| code=$?" in script, "the exit code is captured, so later steps (the upload) still run"

    upload = step_by_id(action, "upload")
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert "always()" in upload["if"]
    assert upload["with"]["name"] == "${{ inputs.html-report }}"
    assert "grader-report.html" in upload["with"]["path"] and "grader-junit.xml" in upload["with"]["path"]

    verdict = steps_of(action)[-1]
    assert "always()" in verdict["if"] and "steps.grade.outputs.exit-code" in verdict["env"]["GRADER_EXIT_CODE"]
    names = [step.get("id") for step in steps_of(action)]
    assert names.index("grade") < names.index("upload") < names.index(verdict["id"])


# --- (b) the run steps, run locally -------------------------------------------------------------------------------


def parse_github_output(text: str) -> dict[str, str]:
    """Parse a ``$GITHUB_OUTPUT`` file: ``name=value`` lines and ``name<<DELIMITER`` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body: list[str] = []
            for item in lines:
                if item == delimiter:
                    break
                body.append(item)
            outputs[name] = "\n".join(body)
        else:
            name, _, value = line.partition("=")
            outputs[name] = value
    return outputs


@dataclass
class StepRun:
    id: str
    ran: bool
    local: bool
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: dict[str, StepRun]
    failed: bool
    outputs: dict[str, str]
    output_lines: list[str]
    summary: str
    report_dir: Path


class Runner:
    """Just enough of the Actions runner to run a composite action's run: steps."""

    def __init__(self, action: dict[str, Any], inputs: dict[str, str], workspace: Path, scratch: Path) -> None:
        defaults = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
        unknown = set(inputs) - set(defaults)
        assert not unknown, f"no such inputs: {unknown}"
        self.action = action
        self.inputs = defaults | inputs
        self.workspace = workspace
        self.scratch = scratch
        self.runner_temp = scratch / "runner-temp"
        self.runner_temp.mkdir()
        self.summary = scratch / "step-summary.md"
        self.summary.touch()
        self.step_outputs: dict[str, dict[str, str]] = {}
        self.outcomes: dict[str, str] = {}
        self.failed = False

    def value(self, expression: str) -> str:
        parts = expression.split(".")
        if parts[0] == "inputs" and len(parts) == 2:
            return self.inputs[parts[1]]
        if expression == "github.action_path":
            return str(ROOT)
        if expression == "runner.temp":
            return str(self.runner_temp)
        if expression in ("runner.os", "runner.arch"):
            return {"runner.os": "Linux", "runner.arch": "X64"}[expression]
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return self.step_outputs.get(parts[1], {}).get(parts[3], "")
        if parts[0] == "steps" and len(parts) == 3 and parts[2] == "outcome":
            return self.outcomes.get(parts[1], "")
        raise AssertionError(f"the emulated runner cannot evaluate ${{{{ {expression} }}}}")

    def interpolate(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: self.value(match.group(1)), text)

    def condition(self, condition: str | None) -> bool:
        text = str(condition or "").strip()
        if match := EXPRESSION.fullmatch(text):
            text = match.group(1)
        terms = [term.strip() for term in text.split("&&")] if text else []
        result = True if any(term in STATUS_FUNCTIONS for term in terms) else not self.failed
        for term in terms:
            if term in STATUS_FUNCTIONS:
                continue
            if term == "success()":
                result = result and not self.failed
                continue
            match = COMPARISON.fullmatch(term)
            assert match, f"the emulated runner cannot evaluate the condition {term!r}"
            equal = self.value(match.group(1)) == match.group(3)
            result = result and (equal if match.group(2) == "==" else not equal)
        return result

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("GITHUB_", "RUNNER_", "INPUT_"))}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        tmp = self.scratch / "tmp"
        tmp.mkdir(exist_ok=True)
        env.update(
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(self.workspace),
            GITHUB_ACTION_PATH=str(ROOT),
            GITHUB_STEP_SUMMARY=str(self.summary),
            RUNNER_TEMP=str(self.runner_temp),
            RUNNER_OS="Linux",
            TMPDIR=str(tmp),
            XDG_CACHE_HOME=str(self.scratch / "cache"),
        )
        return env

    def run(self) -> ActionRun:
        runs: dict[str, StepRun] = {}
        output_lines: list[str] = []
        for index, step in enumerate(steps_of(self.action)):
            step_id = step.get("id", f"__{index}")
            if not self.condition(step.get("if")):
                runs[step_id] = StepRun(step_id, ran=False, local=False)
                self.outcomes[step_id] = "skipped"
                continue
            if "uses" in step or step_id in NOT_RUN_LOCALLY:
                with_ = {key: self.interpolate(str(value)) for key, value in step.get("with", {}).items()}
                runs[step_id] = StepRun(step_id, ran=True, local=False, with_=with_)
                self.outcomes[step_id] = "success"
                continue
            script = self.scratch / f"step-{index}.sh"
            script.write_text(step["run"], encoding="utf-8")
            output_file = self.scratch / f"github-output-{index}"
            output_file.touch()
            env = self.environment()
            env.update({key: self.interpolate(str(value)) for key, value in step.get("env", {}).items()})
            env["GITHUB_OUTPUT"] = str(output_file)
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=self.workspace,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            text = output_file.read_text(encoding="utf-8")
            output_lines.extend(text.splitlines())
            self.step_outputs[step_id] = parse_github_output(text)
            runs[step_id] = StepRun(step_id, True, True, proc.returncode, proc.stdout, proc.stderr)
            self.outcomes[step_id] = "success" if proc.returncode == 0 else "failure"
            self.failed = self.failed or proc.returncode != 0
        outputs = {name: self.interpolate(spec["value"]) for name, spec in self.action["outputs"].items()}
        return ActionRun(
            runs,
            self.failed,
            outputs,
            output_lines,
            self.summary.read_text(encoding="utf-8"),
            self.runner_temp / "grader",
        )


def run_action(action: dict[str, Any], tmp_path: Path, source: Path | None, **inputs: str) -> ActionRun:
    if shutil.which("grader", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the grader is not installed next to this interpreter")
    for step_id in NOT_RUN_LOCALLY:
        step_by_id(action, step_id)
    workspace = tmp_path / "workspace"
    (workspace / "submission").mkdir(parents=True)
    if source is not None:
        shutil.copy(source, workspace / "submission" / source.name)
    scratch = tmp_path / "runner"
    scratch.mkdir()
    return Runner(action, inputs, workspace, scratch).run()


def describe(run: ActionRun) -> str:
    return "\n".join(
        f"--- {step.id} rc={step.returncode}\n{step.stdout}{step.stderr}" for step in run.steps.values() if step.local
    )


def check_reports(run: ActionRun) -> dict[str, Any]:
    """The files the upload step would upload exist and agree with the JSON result; return that result."""
    result: dict[str, Any] = json.loads((run.report_dir / "grader-result.json").read_text(encoding="utf-8"))
    html = (run.report_dir / "grader-report.html").read_text(encoding="utf-8")
    assert "<html" in html.lower()
    cases = ET.parse(run.report_dir / "grader-junit.xml").getroot().iter("testcase")
    assert sum(1 for _ in cases) == len(result["checks"])

    upload = run.steps["upload"]
    assert upload.ran, "the report card is uploaded whatever the score"
    assert upload.with_["name"] == "grader-report"
    for line in upload.with_["path"].split():
        assert Path(line).is_file(), f"the upload step would miss {line}"

    assert run.summary.count("| check | outcome | points |") == 1, "the summary table is appended once"
    points = f"{result['score']:g}/{result['max_score']:g}"
    assert f"Score: {points}" in run.summary

    for prefix in ("score=", "max-score=", "percent=", "result=", "exit-code=", "report-dir="):
        assert any(line.startswith(prefix) for line in run.output_lines), f"no {prefix} line in $GITHUB_OUTPUT"
    assert float(run.outputs["score"]) == result["score"]
    assert float(run.outputs["max-score"]) == result["max_score"]
    assert float(run.outputs["percent"]) == pytest.approx(result["percent"], abs=0.01)
    classroom = json.loads(base64.b64decode(run.outputs["result"]))
    assert classroom["max_score"] == result["max_score"]
    assert sum(test["score"] for test in classroom["tests"]) == result["score"]
    return result


@pytest.mark.slow
def test_reference_solution_passes_with_full_marks(action: dict[str, Any], tmp_path: Path) -> None:
    run = run_action(
        action, tmp_path, ROOT / "solutions" / "ex05_activations.py", path="submission", **{"fail-under": "100"}
    )
    assert not run.failed, describe(run)
    assert run.outputs["exit-code"] == "0"
    result = check_reports(run)
    assert result["percent"] == 100
    assert run.outputs["percent"] == "100" and run.outputs["score"] == run.outputs["max-score"]
    assert {check["exercise"] for check in result["checks"]} == {"ex05_activations"}, "only the exercise provided"
    assert "::error" not in run.steps["grade"].stdout and "::warning" not in run.steps["grade"].stdout
    assert run.steps["verdict"].ran and run.steps["verdict"].returncode == 0
    assert not (tmp_path / "workspace" / "grader-report.html").exists(), "reports stay out of the workspace"


@pytest.mark.slow
def test_stub_scores_zero_and_fails_under_the_threshold(action: dict[str, Any], tmp_path: Path) -> None:
    run = run_action(
        action, tmp_path, ROOT / "exercises" / "ex05_activations.py", path="submission", **{"fail-under": "50"}
    )
    assert run.outputs["exit-code"] == "1", describe(run)
    assert run.failed
    failing = [step.id for step in run.steps.values() if step.returncode != 0]
    assert failing == ["verdict"], f"only the last step fails the job, after the upload: {failing}"
    assert run.steps["verdict"].returncode == 1
    assert "::error title=Grader::The score is below fail-under (50%)." in run.steps["verdict"].stdout
    result = check_reports(run)
    assert result["score"] == 0 and run.outputs["percent"] == "0"
    annotations = run.steps["grade"].stdout.splitlines()
    assert annotations and all(line.startswith(("::warning ", "::error ")) for line in annotations)
    # paths relative to the checkout, where GitHub places annotations
    assert any("file=submission/ex05_activations.py" in line for line in annotations)


@pytest.mark.slow
def test_inputs_are_data_not_shell_code(action: dict[str, Any], tmp_path: Path) -> None:
    """A hostile input reaches grader check as one argument: nothing runs, and the usage error fails the job."""
    hostile = 'x"; touch pwned-quote; echo "$(touch pwned-subst)`touch pwned-tick`'
    run = run_action(action, tmp_path, None, path=hostile, timeout="$(touch pwned-timeout)")
    assert not list(tmp_path.rglob("pwned*")), "an input was executed as shell code"
    assert run.outputs["exit-code"] == "2", describe(run)
    assert run.steps["score"].ran and run.steps["score"].returncode == 0
    assert run.outputs["score"] == "" and run.outputs["result"] == ""
    assert run.steps["verdict"].returncode == 2 and run.failed


# --- (c) the example workflows ------------------------------------------------------------------------------------


def example_workflows() -> list[Path]:
    files = sorted(EXAMPLES_DIR.glob("*.yml"))
    assert files, "examples/workflows has no .yml"
    return files


def grader_steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        step
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if re.fullmatch(r"[\w.-]+/grader@.+", step.get("uses", ""))
    ]


def test_example_workflows_use_the_action_as_it_is_defined(action: dict[str, Any]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    for path in example_workflows():
        workflow = load_yaml(path)
        assert triggers(workflow), f"{path.name} has no triggers"
        steps = grader_steps(workflow)
        assert len(steps) == 1, f"{path.name} uses the grader action {len(steps)} times"
        step = steps[0]
        assert step["uses"] == f"ORG/grader@v{version}", "a pinned release tag, ORG a placeholder"
        assert set(step.get("with", {})) <= set(action["inputs"]), f"{path.name} passes unknown inputs"
        text = path.read_text(encoding="utf-8")
        for name in re.findall(rf"steps\.{re.escape(step['id'])}\.outputs\.([\w-]+)", text):
            assert name in action["outputs"], f"{path.name} reads undefined output {name}"
        job_steps = next(job["steps"] for job in workflow["jobs"].values() if step in job["steps"])
        assert job_steps[0]["uses"].startswith("actions/checkout@"), "the student's work is checked out first"


def test_pull_request_example() -> None:
    workflow = load_yaml(EXAMPLES_DIR / "grade.yml")
    assert "pull_request" in triggers(workflow)
    assert "pull_request_target" not in triggers(workflow), "never run students' code with a write token"
    assert workflow["permissions"] == {"contents": "read"}
    (job,) = workflow["jobs"].values()
    checkout = job["steps"][0]
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.sha }}"
    assert checkout["with"]["persist-credentials"] is False
    (step,) = grader_steps(workflow)
    assert step["id"] == "grader" and "fail-under" in step["with"]


def test_classroom_example_feeds_the_reporter() -> None:
    workflow = load_yaml(EXAMPLES_DIR / "classroom.yml")
    assert workflow["permissions"]["checks"] == "write"
    (job,) = workflow["jobs"].values()
    reporters = [step for step in job["steps"] if step.get("uses") == REPORTER]
    assert len(reporters) == 1, f"one {REPORTER} step"
    reporter = reporters[0]
    runners = [runner.strip() for runner in reporter["with"]["runners"].split(",")]
    assert runners == ["grader"]
    ids = [step.get("id") for step in job["steps"]]
    for runner in runners:
        # The reporter reads <RUNNER ID upper-cased>_RESULTS, base64 JSON: the action's `result` output.
        assert reporter["env"][f"{runner.upper()}_RESULTS"] == f"${{{{ steps.{runner}.outputs.result }}}}"
        assert ids.index(runner) < job["steps"].index(reporter), "the grader runs before the reporter"
    (step,) = grader_steps(workflow)
    assert str(step["with"]["fail-under"]) == "0", "a failing grader step would skip the reporter"
    assert "always()" in reporter["if"]
