"""The documentation: the site builds cleanly, the README stays short, and the tutorials and pictures still hold.

The site is built in a fresh interpreter with warnings as errors, as a reader
or CI would build it; the tutorials' ``sh`` blocks run in ``bash`` and their
``python`` blocks in a real Jupyter kernel, in order, in a folder under
``tmp_path`` that sees the clone's ``samples/`` and ``examples/``.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import nbformat
import pytest
from conftest import REPO_ROOT
from markdown_it import MarkdownIt
from nbformat.v4 import new_code_cell, new_notebook

from grader.cli import cli

DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
CHROMIUM = Path("/usr/bin/chromium")
# The commands and scripts a tutorial runs: the ones this interpreter's environment installed.
BIN = Path(sys.executable).parent


def code_blocks(page: Path, language: str) -> list[str]:
    """The fenced blocks of ``page`` whose info string is exactly ``language``, in order."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    return [t.content for t in tokens if t.type == "fence" and t.info.strip() == language]


def build_site(out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q", "-b", "html", str(DOCS), str(out)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors_and_documents_every_option(tmp_path: Path) -> None:
    """A broken reference, a page in no toctree or a bad directive fails the build; the CLI page comes from click."""
    built = build_site(tmp_path / "html")
    assert built.returncode == 0, built.stderr[-5000:]
    cli_page = (tmp_path / "html" / "reference" / "cli.html").read_text(encoding="utf-8")
    assert isinstance(cli, click.Group)
    for name, command in cli.commands.items():
        assert f'id="grader-{name}"' in cli_page, name
        for param in command.params:
            for flag in param.opts if isinstance(param, click.Option) else ():
                assert flag in cli_page, f"grader {name} {flag}"
    schema_page = (tmp_path / "html" / "reference" / "result-format.html").read_text(encoding="utf-8")
    assert "report.schema.json" in schema_page and "deferred" in schema_page


def test_the_readme_is_short_and_its_set_up_commands_are_the_ones_ci_runs() -> None:
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    ci_command = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    blocks = code_blocks(README, "sh")
    assert "python -m pip install torch==2.13.0 numpy -e . && grader grade --out report\n" in blocks
    assert f"{ci_command}\n" in blocks
    for picture in ("docs/_static/report-card.png", "docs/_static/class-overview.png"):
        assert picture in readme and (REPO_ROOT / picture).is_file()


def tutorial_folder(tmp_path: Path) -> Path:
    """A working folder that looks like a clone to a tutorial: ``samples/`` and ``examples/`` are the real ones."""
    work = tmp_path / "clone"
    work.mkdir()
    for name in ("samples", "examples"):
        (work / name).symlink_to(REPO_ROOT / name, target_is_directory=True)
    return work


def tutorial_environment(tmp_path: Path) -> dict[str, str]:
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(tmp_path)}
    for variable in ("JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR"):
        environment[variable] = str(tmp_path / variable.lower())
    return environment


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[page.stem for page in TUTORIALS])
def test_a_tutorial_runs_as_written(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notebook_client: Callable[..., Any]
) -> None:
    """Every ``sh`` block in one bash (stopping at the first failure), then every ``python`` block in one kernel."""
    work, environment = tutorial_folder(tmp_path), tutorial_environment(tmp_path)
    shell = code_blocks(page, "sh")
    python = code_blocks(page, "python")
    if page.stem != "index":
        assert shell, f"{page.name} has no sh block to run"
    if shell:
        script = "set -euo pipefail\n" + "\n".join(shell)
        done = subprocess.run(
            ["bash", "-c", script], cwd=work, env=environment, capture_output=True, text=True, timeout=900, check=False
        )
        assert done.returncode == 0, (
            f"{page.name}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    if python:
        for variable in ("PATH", "HOME", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "JUPYTER_DATA_DIR", "JUPYTER_CONFIG_DIR"):
            monkeypatch.setenv(variable, environment[variable])  # the kernel inherits this process's environment
        notebook = new_notebook(cells=[new_code_cell(source) for source in python])
        notebook_client(notebook, cwd=work, timeout=300).execute()
        errors = [o for c in notebook.cells for o in c.outputs if o.output_type == "error"]
        assert not errors, nbformat.writes(notebook)[-3000:]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.is_file(), reason="no /usr/bin/chromium (.ci/run installs it with apt-get)")
def test_the_pictures_show_what_the_pages_show_today(tmp_path: Path) -> None:
    """docs/screenshots.py, run again, draws the same text on the same size of picture: otherwise re-run it."""
    done = subprocess.run(
        [sys.executable, str(DOCS / "screenshots.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    committed = DOCS / "_static"
    stale = "the pages changed: run `python docs/screenshots.py` and commit docs/_static"
    assert (tmp_path / "screenshots.txt").read_text() == (committed / "screenshots.txt").read_text(), stale
    for picture in ("report-card.png", "class-overview.png"):
        assert png_size(tmp_path / picture) == png_size(committed / picture), stale
