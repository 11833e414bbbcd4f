"""Every page a class run writes is valid HTML, and no student text in it is live markup.

A small hostile class is graded end to end with the library (the CLI's
``grade-class`` path): an honest student, students whose names are markup or
hold a bidi override, one whose code prints markup and terminal escapes and
raises an exception carrying markup, a broken notebook and a syntax error.
Then the overview and every report card go through the Nu Html Checker (one
JVM for all of them), a structural audit with ``html.parser``, and, when
Chromium is installed, a real browser that must build the same DOM as the
file says (a script or an event handler would change it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from grader.assignment import Assignment
from grader.batch import grade_class
from grader.catalog import catalog
from grader.models import ClassReport
from grader.output import write_class_outputs, write_student_outputs

pytestmark = pytest.mark.slow

ATTACKS = Path(__file__).parent / "attacks"
MARKUP_NAME = '"><svg onload=alert(1)><img src=x onerror=alert(1)><b>bold'
BIDI_NAME = "eve\u202egnp.exe"
XSS_NAME = "printer"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")

XSS_SOURCE = """
import sys

import torch
import torch.nn as nn


def apply_sigmoid(x):
    print("<script>alert(1)</script>")
    print("\\x1b[31mred\\x1b[0m \\x1b]8;;http://evil\\x07link\\x1b]8;;\\x07 \\u202egnp.exe")
    print("<img src=x onerror=alert(1)>", file=sys.stderr)
    raise ValueError("<img src=x onerror=alert(1)> <a href=\\"javascript:alert(1)\\">x</a> \\x1b[2J")


def apply_softmax(x, dim):
    return torch.softmax(x, dim=dim)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=-1))
"""

# Every element the templates write; anything else in a page came from somewhere else.
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "footer", "section", "article",
    "h1", "h2", "h3", "p", "strong", "span", "div", "ul", "li", "a", "code", "pre", "details", "summary", "nav",
    "table", "caption", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
SVG_TAGS = {"svg", "g", "rect", "line", "text"}  # the overview's chart (its <title> is in TEMPLATE_TAGS)


@dataclass
class Page:
    """What ``html.parser`` sees in one page."""

    tags: Counter[str] = field(default_factory=Counter)
    attrs: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, name, value)
    text: list[str] = field(default_factory=list)
    doctype: str = ""


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.tags[tag] += 1
        self.page.attrs.extend((tag, name, value or "") for name, value in attrs)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.page.text.append(data)

    def handle_decl(self, decl: str) -> None:
        self.page.doctype = decl


def audit(html: str) -> Page:
    parser = Audit()
    parser.feed(html)
    parser.close()
    return parser.page


@pytest.fixture(scope="module")
def site(bundled: Assignment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClassReport, Path]]:
    class_dir = tmp_path_factory.mktemp("class")
    solutions = bundled.root / "solutions"
    for name in ("honest", MARKUP_NAME, BIDI_NAME, XSS_NAME):
        shutil.copytree(solutions, class_dir / name)
    (class_dir / XSS_NAME / "ex05_activations.py").write_text(XSS_SOURCE, encoding="utf-8")
    shutil.copyfile(ATTACKS / "b08_notebook_invalid" / "submission.ipynb", class_dir / "notebook.ipynb")
    shutil.copytree(ATTACKS / "b01_syntax_error", class_dir / "syntax_error")
    out = tmp_path_factory.mktemp("out")
    result = grade_class(class_dir, out, bundled, jobs=2, write_student=write_student_outputs)
    write_class_outputs(out, result)
    yield result, out


def pages(out: Path) -> list[Path]:
    class_pages = sorted({*out.glob("students-*.html"), out / "similar.html"})
    return [out / "index.html", *class_pages, *sorted(out.glob("*/report.html"))]


def test_every_student_has_a_report_card(site: tuple[ClassReport, Path]) -> None:
    result, out = site
    names = {r.student for r in result.reports}
    assert {"honest", MARKUP_NAME, BIDI_NAME, XSS_NAME, "notebook", "syntax_error"} <= names
    assert {p.parent.name for p in out.glob("*/report.html")} == names
    honest = next(r for r in result.reports if r.student == "honest")
    assert honest.score == honest.max_score > 0


def test_every_page_passes_the_nu_html_checker(site: tuple[ClassReport, Path], vnu: Any) -> None:
    _, out = site
    files = pages(out)
    assert len(files) == 8  # the overview, similar.html and six report cards
    messages = vnu(files)
    assert messages == [], vnu.describe(messages)


@pytest.mark.parametrize("which", ["index", "honest", MARKUP_NAME, BIDI_NAME, XSS_NAME, "notebook", "syntax_error"])
def test_no_student_text_is_live_markup(site: tuple[ClassReport, Path], which: str) -> None:
    _, out = site
    overview = which == "index"
    path = out / "index.html" if overview else out / which / "report.html"
    html = path.read_text(encoding="utf-8")
    page = audit(html)

    assert page.doctype.lower() == "doctype html"
    assert not RAW_CONTROL.search(html), f"raw control or bidi character at {RAW_CONTROL.search(html)}"
    unexpected = set(page.tags) - TEMPLATE_TAGS - (SVG_TAGS if overview else set())
    assert not unexpected, f"elements the templates never write: {unexpected}"
    for tag in ("html", "head", "body", "main", "style"):
        assert page.tags[tag] == 1, tag
    assert page.tags["svg"] == (1 if overview else 0)
    assert page.tags["meta"] == 4

    csp = [value for tag, name, value in page.attrs if tag == "meta" and name == "content" and "src" in value]
    assert csp == [CSP]
    assert ("meta", "http-equiv", "Content-Security-Policy") in page.attrs
    assert "default-src 'none'" in csp[0]

    for tag, name, value in page.attrs:
        assert not name.startswith("on"), (tag, name, value)
        assert name not in ("src", "srcdoc", "action", "formaction", "xlink:href", "background"), (tag, name)
        assert "javascript:" not in value.lower().replace(" ", ""), (tag, name, value)
        if name == "href":
            assert tag == "a", (tag, value)
            parts = urlsplit(value)
            assert not parts.scheme and not parts.netloc, value
            if not value.startswith("#"):
                assert overview, f"a report card links out: {value}"
                assert re.fullmatch(r"[^/?#]+/report\.html", value), value
                assert (out / unquote(parts.path)).is_file(), value
        if name == "style":
            assert re.fullmatch(r"width: \d+(\.\d)?%", value), value

    text = "".join(page.text)
    if which in (MARKUP_NAME, XSS_NAME) or overview:
        assert "<img src=x onerror=alert(1)>" in text  # shown, as text
    if which == BIDI_NAME or overview:
        assert "eve\\u202egnp.exe" in text  # spelled out, not obeyed
    if which == XSS_NAME:
        assert "<script>alert(1)</script>" in text
        assert "\\x1b[31mred" in text and "\\x1b]8;;http://evil\\x07link" in text


def test_overview_links_every_report_card(site: tuple[ClassReport, Path]) -> None:
    result, out = site
    page = audit((out / "index.html").read_text(encoding="utf-8"))
    targets = {unquote(v) for tag, name, v in page.attrs if name == "href" and not v.startswith("#")}
    assert targets == {f"{r.student}/report.html" for r in result.reports}


def test_the_copies_are_one_group_whose_hostile_names_stay_text(site: tuple[ClassReport, Path]) -> None:
    result, out = site
    # Four students handed in the reference solutions (one with its own ex05): one group.
    assert [sorted(c.students) for c in result.similar] == [sorted(["honest", MARKUP_NAME, BIDI_NAME, XSS_NAME])]
    for name in ("index.html", "similar.html"):
        page = audit((out / name).read_text(encoding="utf-8"))
        targets = {unquote(v) for tag, n, v in page.attrs if n == "href" and v.endswith("/report.html")}
        assert {f"{s}/report.html" for s in result.similar[0].students} <= targets
        assert MARKUP_NAME in "".join(page.text) and "<svg onload" not in (out / name).read_text(encoding="utf-8")


# --- a real browser -----------------------------------------------------------


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run_chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    browser = chromium()
    assert browser is not None
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-extensions",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed")
@pytest.mark.parametrize("which", ["index", MARKUP_NAME, XSS_NAME])
def test_a_browser_builds_the_dom_the_file_describes(
    site: tuple[ClassReport, Path], tmp_path: Path, which: str
) -> None:
    _, out = site
    path = out / "index.html" if which == "index" else out / which / "report.html"
    result = run_chromium(["--dump-dom", path.as_uri()], tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = audit(result.stdout)
    source = audit(path.read_text(encoding="utf-8"))
    # A script, an event handler or markup smuggled in as text would add, drop or move elements.
    assert dom.tags == source.tags
    assert sorted(dom.attrs) == sorted(source.attrs)
    assert "".join(dom.text).split() == "".join(source.text).split()
    assert "<img" not in result.stdout and "<script" not in result.stdout.lower()
    if which != "index":
        assert "&lt;img src=x onerror=alert(1)&gt;" in result.stdout


@pytest.mark.skipif(chromium() is None, reason="chromium is not installed")
def test_a_browser_renders_the_pages(site: tuple[ClassReport, Path], tmp_path: Path) -> None:
    _, out = site
    for name, path in {"index": out / "index.html", "report": out / XSS_NAME / "report.html"}.items():
        png = tmp_path / f"{name}.png"
        result = run_chromium([f"--screenshot={png}", "--window-size=1280,1600", path.as_uri()], tmp_path / name)
        assert result.returncode == 0, result.stderr[-2000:]
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, name


# --- the first screen of a report card -----------------------------------------

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
WRONG_TWICE = """
import torch
from torch import nn


def apply_sigmoid(x):
    return torch.sigmoid(x)


def apply_softmax(x, dim):
    e = torch.exp(x)  # overflows for large inputs
    return e / e.sum(dim=dim, keepdim=True)


def binary_classifier(n_features):
    return nn.Sequential(nn.Linear(n_features, 1), nn.Sigmoid())


def multiclass_classifier(n_features, n_classes):
    return nn.Sequential(nn.Linear(n_features, n_classes), nn.Softmax(dim=1))  # fails on a single sample
"""


@pytest.fixture(scope="module")
def lone_exercise_card(bundled: Assignment, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The card of a student who handed in only ex05_activations.py, two checks wrong, graded on every check."""
    from grader.grading import Grader
    from grader.render import render_html
    from grader.submission import load_submission

    folder = tmp_path_factory.mktemp("farid")
    (folder / "ex05_activations.py").write_text(WRONG_TWICE, encoding="utf-8")
    with Grader(bundled) as grader:
        report = grader.grade(load_submission(folder, bundled))  # the whole assignment, as `grader grade` does
    card = folder / "report.html"
    card.write_text(render_html(report), encoding="utf-8")
    return card, report


def test_the_lone_exercise_card_leads_with_its_three_failures(
    lone_exercise_card: tuple[Path, Any], bundled: Assignment
) -> None:
    card, report = lone_exercise_card
    assert len(report.checks) == len(catalog(bundled))  # the whole assignment
    failed = [c for c in report.checks if c.outcome.value == "failed"]
    # Its softmax overflows (the ±1000 check and, since issue 23, the 60-200 one); its classifier's dim is wrong.
    assert [c.function for c in failed] == ["apply_softmax", "apply_softmax", "multiclass_classifier"]
    html = card.read_text(encoding="utf-8")
    assert html.count("was not submitted") == 0  # one line, not 48 blocks
    assert html.count('<article class="detail') == 3
    assert "Not submitted: ex01_tensors, ex02_operations, ex03_linear, ex04_sequential, ex06_forward" in html
    text = "".join(audit(html).text)
    assert text.index(failed[0].hint) < text.index("Not submitted")


@pytest.mark.skipif(not SYSTEM_CHROMIUM.is_file(), reason="no /usr/bin/chromium (.ci/run installs it with apt-get)")
def test_the_first_failure_and_its_hint_are_on_the_first_screen(lone_exercise_card: tuple[Path, Any]) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    card, report = lone_exercise_card
    first = next(c for c in report.checks if c.outcome.value == "failed")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(SYSTEM_CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(card.as_uri())
            detail = page.locator("article.detail").first
            message, hint = detail.locator("pre").first, detail.locator(".hint")
            assert first.message.splitlines()[0] in message.inner_text()
            assert first.hint in hint.inner_text()
            for element in (detail.locator("h3"), message, hint):
                box = element.bounding_box()
                assert box is not None and element.is_visible()
                assert box["y"] >= 0 and box["y"] + box["height"] <= 800, (element, box)
                assert box["x"] + box["width"] <= 1280, (element, box)
            # Printing keeps the failures and drops nothing but the decoration.
            page.emulate_media(media="print")
            assert detail.is_visible() and hint.is_visible()
        finally:
            browser.close()
