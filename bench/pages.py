"""Benchmark: how long the class pages of a graded class take to open in headless Chromium.

Opens each of ``index.html``, the first further page of students and
``similar.html`` of a report folder (``grader grade --out DIR``) from disk, as a
teacher would, and reports its size, the time to the load event and to the
first contentful paint (Navigation and Paint Timing, read through the DevTools
protocol: the pages themselves run no script), the median of ``--repeat``
loads, each in a fresh tab.

``--scale N`` first rebuilds the pages for a class of N students made by
repeating the folder's students under new names (their clusters repeated
too), to see a class larger than any graded one; the pages go to a temporary
folder and the time to render them is reported too.

    pip install playwright   # uses the system's Chromium; never `playwright install`
    python bench/pages.py report/ [--chromium /usr/bin/chromium] [--repeat 3] [--scale 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from playwright.sync_api import sync_playwright

from grader.models import ClassReport, Report, SimilarCluster
from grader.output import write_class_outputs

TIMING = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return {load_ms: nav.loadEventEnd, paint_ms: paint ? paint.startTime : null,
          elements: document.getElementsByTagName("*").length};
}"""


def scaled(out: Path, students: int) -> ClassReport:
    """The class of ``out/results.json`` repeated (``copy2-``, ``copy3-`` ... prefixes) up to ``students``."""
    data = json.loads((out / "results.json").read_text())
    reports = [Report.from_dict(s) for s in data["students"]]
    clusters = [SimilarCluster.from_dict(c) for c in data["similar"]]
    every: list[Report] = []
    groups: list[SimilarCluster] = []
    copy = 0
    while len(every) < students:
        copy += 1
        prefix = "" if copy == 1 else f"copy{copy}-"
        every += [replace(r, student=prefix + r.student) for r in reports[: students - len(every)]]
        taken = {r.student for r in every}
        for c in clusters:
            members = tuple(prefix + m for m in c.students if prefix + m in taken)
            if len(members) > 1:
                groups.append(replace(c, students=members))
    groups.sort(key=lambda c: (-len(c.students), -c.similarity, c.students))
    titles = {e["name"]: e["title"] for e in data["exercises"]}
    return ClassReport(data["assignment"], tuple(every), exercise_titles=titles, similar=tuple(groups))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="a report folder written by grader grade")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=int, default=0, help="rebuild the pages for a class this large first")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    if args.scale:
        report = scaled(args.out, args.scale)
        args.out = Path(tempfile.mkdtemp(prefix="grader-pages-"))
        started = time.perf_counter()
        write_class_outputs(args.out, report)
        figures["class"] = {
            "students": len(report.reports),
            "clusters": len(report.similar),
            "write_class_outputs_s": round(time.perf_counter() - started, 2),
            "results_json_bytes": (args.out / "results.json").stat().st_size,
            "junit_xml_bytes": (args.out / "junit.xml").stat().st_size,
            "pages": len(list(args.out.glob("*.html"))),
        }
    names = ["index.html", *sorted(p.name for p in args.out.glob("students-2.html")), "similar.html"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        for name in names:
            path = (args.out / name).resolve()
            if not path.is_file():
                continue
            runs = []
            for _ in range(args.repeat):  # a fresh tab each time, as a teacher opening the file
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(path.as_uri(), wait_until="load")
                page.wait_for_timeout(100)  # let the first paint be recorded
                runs.append(page.evaluate(TIMING))
                page.close()
            best = sorted(runs, key=lambda r: r["load_ms"])[len(runs) // 2]  # the median load
            figures[name] = {
                "bytes": path.stat().st_size,
                "load_ms": round(best["load_ms"]),
                "first_paint_ms": round(best["paint_ms"]) if best["paint_ms"] is not None else None,
                "elements": best["elements"],
            }
        browser.close()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
