"""Make the README's pictures from the sample class, in the real browser.

    python docs/screenshots.py                  # writes docs/_static/report-card.png and class-overview.png
    python docs/screenshots.py --out DIR        # somewhere else (the test suite does, under tmp_path)

It grades the bundled sample class with ``grader grade`` into a temporary
folder, opens Ben's report card and the class overview from disk in the
system's Chromium (``/usr/bin/chromium``, driven by Playwright; never
``playwright install``) and saves the first screen of each. Beside the
pictures it writes ``screenshots.txt``: the text each picture shows, so a
change to the pages that would make the pictures stale fails
``tests/test_docs.py`` until this script is run again.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "_static"
CHROMIUM = Path("/usr/bin/chromium")
#: Picture file -> the page of the graded sample class it shows, and the size of the screen it is seen on.
PICTURES = {
    "report-card.png": ("ben/report.html", {"width": 960, "height": 720}),
    "class-overview.png": ("index.html", {"width": 1400, "height": 1250}),
}
#: Text that differs from machine to machine or run to run, not from a change to the pages.
_VARIABLE = re.compile(r"\d+(\.\d+)? ?(ms|s)\b|(?i:isolation layers?:)[^\n]*|grader \d+\.\d+\.\d+")

#: Every text node of the page that is drawn on its first screen, in document order.
_SHOWN_TEXT = """() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const shown = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const range = document.createRange();
        range.selectNodeContents(node);
        const box = range.getBoundingClientRect();
        if (node.textContent.trim() && box.height > 0 && box.top < innerHeight && box.bottom > 0) {
            shown.push(node.textContent);
        }
    }
    return shown.join("\\n");
}"""


def grade_sample_class(out: Path) -> None:
    """``grader grade --out OUT``: the bundled sample class, graded as the README's first command does."""
    command = [sys.executable, "-m", "grader", "grade", "--out", str(out), "--jobs", "2"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"grader grade exited {done.returncode}:\n{done.stderr}")


def shown_text(text: str) -> str:
    """The text of a first screen with what varies between machines and runs blanked out."""
    lines = (line.strip() for line in _VARIABLE.sub("...", text).splitlines())
    return "\n".join(line for line in lines if line) + "\n"


def take(report: Path, out: Path, *, chromium: Path = CHROMIUM) -> dict[str, str]:
    """Screenshot each page of ``PICTURES`` into ``out``; the text each first screen shows, by picture."""
    from playwright.sync_api import sync_playwright

    shown: dict[str, str] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            for picture, (page_path, viewport) in PICTURES.items():
                page = browser.new_page(viewport=viewport, device_scale_factor=1)
                page.goto((report / page_path).as_uri(), wait_until="load")
                page.screenshot(path=str(out / picture))
                shown[picture] = page.evaluate(_SHOWN_TEXT)
        finally:
            browser.close()
    return shown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=STATIC, help="folder for the pictures (default: docs/_static)")
    parser.add_argument("--chromium", type=Path, default=CHROMIUM)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grader-screenshots-") as work:
        report = Path(work) / "report"
        grade_sample_class(report)
        shown = take(report, args.out, chromium=args.chromium)
    text = "".join(f"== {picture}\n{shown_text(shown[picture])}" for picture in PICTURES)
    (args.out / "screenshots.txt").write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(PICTURES)} and screenshots.txt to {args.out}")


if __name__ == "__main__":
    main()
