"""The words every format uses for a check: its points and what went wrong."""

from __future__ import annotations

from grader.models import CheckResult


def points(value: float, decimals: int = 2) -> str:
    """A score without float noise: ``12.5``, ``40``, ``0.33``; never ``-0``."""
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def failure_lines(check: CheckResult) -> list[str]:
    """What was expected and what came back, the hint, and where the function is defined."""
    lines = [check.message] if check.message else []
    if check.hint:
        lines.append(f"Hint: {check.hint}")
    if check.location:
        lines.append(f"Defined at: {check.location.describe()}")
    return lines
