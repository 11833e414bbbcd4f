"""What a report may show of student text: escaped, excerpted and redacted.

Every renderer that writes to a terminal or a browser runs student-derived
strings through ``visible`` (principle 8) and every check through
``redacted`` (principle 9), so neither rule depends on a template author
remembering it.
"""

from __future__ import annotations

import dataclasses
import re

from grader.models import CheckResult

# Characters that move the cursor, start terminal escape sequences, reorder
# text (bidi "Trojan Source") or are invisible: C0 except tab and newline,
# DEL and C1, every format character (Unicode category Cf, including bidi
# controls, zero-width characters, BOM and the invisible tag characters), line
# and paragraph separators, and lone surrogates. The test suite checks this
# class against ``unicodedata`` so a new format character cannot slip through.
_INVISIBLE = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff"
    "\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    "]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def visible(text: str) -> str:
    """Return ``text`` with every control, bidi and invisible character spelled out.

    An escape sequence keeps its printable tail, so ``ESC [31m`` becomes the
    literal ``\\x1b[31m``: the reader sees what the student printed, and the
    terminal or browser sees nothing it acts on. ``\\r\\n`` is folded to a
    newline first because it is how Windows-style output ends its lines, not
    an attempt to overwrite one. The result is always encodable as UTF-8.
    """
    if text.isascii() and text.isprintable():  # most strings: nothing to escape, no regex pass
        return text
    return _INVISIBLE.sub(_escape, text.replace("\r\n", "\n"))


def excerpt(text: str, *, max_lines: int, max_chars: int) -> str:
    """Return the start of ``text``, cut to ``max_lines`` and ``max_chars``, saying what was cut.

    Output is already capped when captured, but a 64 KiB block is still too
    long to read in a report. Lines are split on ``\\n`` only: other line
    breaks are escaped by ``visible`` and must not count as lines here.
    """
    shown = "\n".join(text.split("\n")[:max_lines])[:max_chars]
    if shown == text:
        return text
    rest = text[len(shown) :]
    # A line cut in the middle counts as not shown.
    hidden_lines = rest.count("\n") + (0 if rest.startswith("\n") else 1)
    plural = "s" if hidden_lines != 1 else ""
    return f"{shown}\n... ({hidden_lines} more line{plural} not shown)"


def redacted(check: CheckResult) -> CheckResult:
    """Return ``check`` as a report may show it: a hidden check keeps only its name and verdict.

    The grader already scrubs hidden checks' messages and hints; dropping
    every free-text field again here means a renderer cannot leak an input,
    an expected value or the student's output for them even if that scrub
    is ever skipped.
    """
    if not check.hidden:
        return check
    return dataclasses.replace(check, description="", message="", hint="", output="", location=None)


_DOUBLE_COLON = re.compile(r":(?=:)")


def neutralize_commands(text: str) -> str:
    """Return ``text`` with every ``::`` written ``: :`` and every ``##[`` written ``## [``.

    GitHub's runner reads ``::command::`` at the start of any line of a job's
    output (after leading spaces) and ``##[`` anywhere, so student text that
    may reach a CI log (the terminal report, markdown, annotations) must not
    carry either. Every ``::`` is broken, not only those at line starts,
    because wrapping can move any of them to the start of a line.
    """
    return _DOUBLE_COLON.sub(": ", text).replace("##[", "## [")
