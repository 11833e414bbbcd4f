"""Tests for grader.render: hostile student text stays inert, hidden checks stay hidden."""

from __future__ import annotations

import dataclasses
import json
import sys
import unicodedata
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path
from typing import Any

import jinja2
import pytest
from rich.console import Console

from grader.models import CheckResult, Location, Outcome, Report
from grader.render import environment, print_report, render_html, render_json, render_text
from grader.render.escape import excerpt, redacted, visible

SCRIPT = "<script>alert(1)</script>"
ANSI = "\x1b[31m"
OSC_LINK = "\x1b]8;;http://evil\x07"
BIDI = "\u202e"
MARKUP = "[bold red]loud[/bold red] [link=http://evil]x[/link] :smile:"
EVIL = f"{SCRIPT} {ANSI}red {OSC_LINK}link {BIDI}gnp.exe {MARKUP}"
SECRET = "SECRET-EXPECTED-tensor([0.25])"


def make_report(*, student: str = f"Mallory {EVIL}") -> Report:
    """Build a report with one check of each outcome, one hidden, all carrying hostile text."""
    checks = (
        CheckResult(
            "ex01_basics",
            "add",
            "test_add_ints",
            Outcome.PASSED,
            1.0,
            1.0,
            description="adds two integers",
            output=f"debug {EVIL}",
        ),
        CheckResult(
            "ex01_basics",
            "add",
            "test_add_tensors",
            Outcome.FAILED,
            0.0,
            2.0,
            description="adds two tensors",
            message=f"expected tensor([2.]), got {EVIL}",
            hint="broadcast the second argument",
            output=f"printed {EVIL}\n" + "\n".join(f"line {i}" for i in range(100)),
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
        CheckResult(
            "ex02_activations",
            "relu",
            "test_relu",
            Outcome.TIMEOUT,
            0.0,
            1.0,
            message="timed out after 5 s",
        ),
        CheckResult(
            "ex02_activations",
            "gelu",
            "test_gelu",
            Outcome.NOT_ATTEMPTED,
            0.0,
            1.0,
            message="gelu is not implemented yet",
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
            location=Location("ex02.py", 9),
        ),
        CheckResult(
            "ex02_activations",
            "softmax",
            "test_softmax_shape",
            Outcome.PASSED,
            0.5,
            0.5,
        ),
    )
    return Report(
        student=student,
        checks=checks,
        problems=(f"notebook cell 3 skipped: {EVIL}",),
        exercise_titles={"ex01_basics": "Basics", "ex02_activations": "Activations"},
        assignment="Week 3: tensors",
        isolation=("rlimits", "landlock", "seccomp"),
        duration_s=1.234,
        grader_version="0.1.0",
    )


def assert_inert(out: str) -> None:
    assert "\x1b]" not in out
    assert "\x07" not in out
    assert BIDI not in out
    assert "\\x1b]8;;http://evil\\x07" in out
    assert "\\u202e" in out


# --- escape -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[31mred", "\\x1b[31mred"),
        (OSC_LINK, "\\x1b]8;;http://evil\\x07"),
        ("a\u202eb\u2066c\u200fd\u061c", "a\\u202eb\\u2066c\\u200fd\\u061c"),
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),
        ("over\rwrite", "over\\x0dwrite"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("keeps\ttabs\nand lines, caf\u00e9, \u4e2d\u6587, \U0001f600", None),
        ("windows\r\nline", "windows\nline"),
    ],
)
def test_visible(raw: str, shown: str | None) -> None:
    assert visible(raw) == (raw if shown is None else shown)
    visible(raw).encode("utf-8")  # never raises, even for lone surrogates
    assert visible(visible(raw)) == visible(raw)


def test_visible_covers_every_control_and_format_character() -> None:
    leaked = [
        f"U+{cp:04X}"
        for cp in range(sys.maxunicode + 1)
        if unicodedata.category(chr(cp)) in {"Cc", "Cf", "Cs", "Zl", "Zp"}
        and chr(cp) not in "\n\t"
        and visible(chr(cp)) == chr(cp)
    ]
    assert leaked == []


def test_excerpt() -> None:
    text = "\n".join(f"line {i}" for i in range(30))
    assert excerpt(text, max_lines=50, max_chars=10_000) == text
    cut = excerpt(text, max_lines=3, max_chars=10_000)
    assert cut == "line 0\nline 1\nline 2\n... (27 more lines not shown)"
    assert excerpt("x" * 100, max_lines=5, max_chars=10).endswith("... (1 more line not shown)")


def test_redacted_keeps_only_name_verdict_and_points() -> None:
    hidden = next(c for c in make_report().checks if c.hidden)
    shown = redacted(hidden)
    assert (shown.name, shown.outcome, shown.points, shown.max_points) == (
        hidden.name,
        hidden.outcome,
        hidden.points,
        hidden.max_points,
    )
    assert SECRET not in repr(shown)
    visible_check = make_report().checks[1]
    assert redacted(visible_check) is visible_check


# --- text -------------------------------------------------------------------


def test_text_escapes_student_text() -> None:
    out = render_text(make_report())
    assert "\x1b" not in out
    assert_inert(out)
    assert "\\x1b[31m" in out
    assert SCRIPT in out  # a terminal shows it as text; nothing to escape
    assert MARKUP in out  # printed literally, never parsed as rich markup
    assert ":smile:" in out


def test_text_content() -> None:
    out = render_text(make_report())
    assert "Score: 1.5/8 (18.8%)" in out
    assert "2 passed, 2 failed, 1 error, 1 timed out, 1 not attempted" in out
    assert "Hint: broadcast the second argument" in out
    assert "ex01_basics.py, line 3" in out
    assert "submission.ipynb, cell 4, line 2" in out
    assert "line 17" in out and "line 30" not in out  # output trimmed to ~20 lines
    assert "more lines not shown" in out
    assert "notebook cell 3 skipped" in out
    assert "test_softmax_hidden (hidden)" in out
    assert SECRET not in out
    assert "rlimits, landlock, seccomp" in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_text_width_and_color() -> None:
    narrow = render_text(make_report(), console_width=60)
    assert max(len(line) for line in narrow.splitlines()) <= 60
    colored = render_text(make_report(), color=True)
    assert "\x1b[" in colored  # our own styling
    assert_inert(colored)
    assert "\\x1b[31m" in colored


def test_print_report_on_a_markup_console() -> None:
    buffer = StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, markup=True, emoji=True)
    print_report(make_report(), console)
    out = buffer.getvalue()
    assert_inert(out)
    assert "[bold red]loud[/bold red]" in out
    assert ":smile:" in out
    assert SECRET not in out


def test_text_with_no_checks() -> None:
    out = render_text(Report(student="nobody", checks=()))
    assert "Score: 0/0 (0.0%)" in out and "no checks" in out


# --- html -------------------------------------------------------------------


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class StrictTree(HTMLParser):
    """Check that every element is closed in order and collect text and tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.errors: list[str] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> StrictTree:
    tree = StrictTree()
    tree.feed(page)
    tree.close()
    assert tree.errors == []
    assert tree.stack == []
    return tree


def test_html_is_well_formed_and_self_contained() -> None:
    page = render_html(make_report())
    tree = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert tree.doctype == "DOCTYPE html"
    tags = [tag for tag, _ in tree.tags]
    assert tags[0] == "html" and tree.tags[0][1] == {"lang": "en"}
    assert {"script", "link", "img", "iframe", "object", "embed", "form"}.isdisjoint(tags)
    metas = [attrs for tag, attrs in tree.tags if tag == "meta"]
    assert {"charset": "utf-8"} in metas
    csp = next(a["content"] for a in metas if a.get("http-equiv") == "Content-Security-Policy")
    assert csp == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert "title" in tags
    hrefs = [attrs["href"] for tag, attrs in tree.tags if "href" in attrs]
    assert hrefs and all(str(h).startswith("#check-") for h in hrefs)
    assert not any("src" in attrs for _, attrs in tree.tags)
    # every table has column headers
    assert tags.count("table") == 2 and tags.count("thead") == 2
    assert all(attrs.get("scope") in {"col", "row"} for tag, attrs in tree.tags if tag == "th")


def test_html_escapes_student_text() -> None:
    page = render_html(make_report())
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page
    assert_inert(page)
    text = "".join(parse(page).text)
    assert SCRIPT in text  # shown to the reader as text
    assert f"Mallory {visible(EVIL)}" in text


def test_html_content_and_hidden_checks() -> None:
    page = render_html(make_report())
    text = " ".join(parse(page).text)
    assert "1.5 / 8" in text and "(18.8%)" in text
    assert 'style="width: 18.8%"' in page
    for words in ["2 passed", "2 failed", "1 error", "1 timed out", "1 not attempted"]:
        assert words in text
    assert "Hint:" in text and "broadcast the second argument" in text
    assert "ex01_basics.py, line 3" in text
    assert "submission.ipynb, cell 4, line 2" in text
    assert "Captured output" in text and "line 99" in text
    assert "notebook cell 3 skipped" in text
    assert "rlimits, landlock, seccomp" in text and "0.1.0" in text and "1.23 s" in text
    assert "test_softmax_hidden" in text
    assert SECRET not in page
    assert 'href="#check-1"' in page  # failed visible checks link to their details
    assert page.count('<article class="detail') == 4  # hidden check has no details


def test_html_rows_shared_between_cards_are_each_cards_own() -> None:
    """The table's rows are cached across cards: a card reads the same after any other as alone."""
    from grader.render.html import check_row

    first = make_report()
    # The same checks with other verdicts and points, so the failed checks' anchors move too:
    # a row cached under too coarse a key would show the first card's verdict in the second.
    second = Report(
        student="bob",
        checks=tuple(
            dataclasses.replace(
                c, outcome=Outcome.PASSED if c.outcome is not Outcome.PASSED else Outcome.FAILED, points=0.25
            )
            for c in first.checks
        ),
    )
    check_row.cache_clear()
    alone = render_html(second)
    check_row.cache_clear()
    render_html(first)
    assert render_html(second) == alone
    assert SECRET not in render_html(first)


def test_html_environment_is_strict_and_escapes_any_template() -> None:
    env = environment()
    assert env.autoescape is True
    page = env.from_string("<p>{{ name }}</p>").render(name=EVIL)
    assert "<script" not in page and BIDI not in page and "\x1b" not in page
    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ missing }}").render()


def test_html_with_no_checks() -> None:
    page = render_html(Report(student="nobody", checks=()))
    parse(page)
    assert "No checks were run." in page


def test_html_passes_the_nu_html_checker(tmp_path: Path, vnu: Any) -> None:
    files = []
    for name, report in {"full": make_report(), "empty": Report("nobody", ())}.items():
        files.append(tmp_path / f"{name}.html")
        files[-1].write_text(render_html(report), encoding="utf-8")
    messages = vnu(files)
    assert messages == [], vnu.describe(messages)


# --- json -------------------------------------------------------------------


def test_json_round_trips() -> None:
    report = make_report()
    out = render_json(report)
    assert out.endswith("}\n")
    assert out.isascii()
    assert "\x1b" not in out and BIDI not in out and "\x07" not in out
    back = Report.from_dict(json.loads(out))
    assert back.score == report.score and back.max_score == report.max_score
    assert back.student == report.student
    assert back.counts() == report.counts()
    assert SECRET not in out
    hidden = next(c for c in back.checks if c.hidden)
    assert (hidden.name, hidden.outcome) == ("test_softmax_hidden", Outcome.FAILED)


def test_json_survives_lone_surrogates() -> None:
    out = render_json(make_report(student="bad \ud800 name"))
    out.encode("utf-8")
    assert Report.from_dict(json.loads(out)).student == "bad \ud800 name"


def lone_exercise_report() -> Report:
    """A student who handed in ex02 only: one failure, one stubbed function, ex01 and ex03 not submitted."""
    missing = tuple(
        CheckResult(
            ex, f"f_{ex}", f"check_{ex}_{i}", Outcome.NOT_ATTEMPTED, 0.0, 1.0, message=f"{ex}.py was not submitted"
        )
        for ex in ("ex01_basics", "ex03_more")
        for i in range(6)
    )
    handed_in = (
        CheckResult("ex02_activations", "softmax", "rows", Outcome.PASSED, 1.0, 1.0, description="sums rows to 1"),
        CheckResult(
            "ex02_activations",
            "softmax",
            "large",
            Outcome.FAILED,
            0.0,
            1.0,
            description="stays finite",
            message="expected 1, got nan",
            hint="subtract the maximum before exp",
            location=Location("ex02_activations.py", 7),
        ),
        CheckResult(
            "ex02_activations",
            "gelu",
            "gelu_values",
            Outcome.NOT_ATTEMPTED,
            0.0,
            2.0,
            message="gelu still raises NotImplementedError: it has not been written yet",
        ),
    )
    return Report(
        student="farid",
        checks=missing[:6] + handed_in + missing[6:],
        exercise_titles={"ex01_basics": "Basics", "ex02_activations": "Activations", "ex03_more": "More"},
        not_submitted=("ex01_basics", "ex03_more"),
    )


def test_text_leads_with_the_failure_and_puts_what_is_missing_on_one_line() -> None:
    out = render_text(lone_exercise_report())
    assert "was not submitted" not in out and "NotImplementedError" not in out
    assert out.index("What to fix (1)") < out.index("subtract the maximum before exp") < out.index("Activations")
    assert "Defined at: ex02_activations.py, line 7" in out
    assert "- Not attempted in Activations: gelu (2 points)" in out
    assert "- Not submitted: ex01_basics, ex03_more (12 checks, 12 points)" in out
    assert "Basics" not in out  # no table for an exercise that was not handed in
    assert out.rstrip().splitlines()[-2].startswith("Score: 1/16")


def test_html_leads_with_the_failure_and_puts_what_is_missing_on_one_line() -> None:
    page = render_html(lone_exercise_report())
    text = "".join(parse(page).text)
    assert "was not submitted" not in page and "NotImplementedError" not in page
    assert page.count('<article class="detail') == 1
    assert text.index("What to fix (1)") < text.index("expected 1, got nan") < text.index("Not handed in yet")
    assert text.index("subtract the maximum before exp") < text.index("Every check")
    assert "Not submitted: ex01_basics, ex03_more (12 checks, 12 points)" in text
    assert "Not attempted in Activations: gelu (2 points)" in text
    assert "@media print" in page
    assert 'href="#check-1"' in page and 'id="check-1"' in page
