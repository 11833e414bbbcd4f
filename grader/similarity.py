"""Flag identical or near-identical submissions in a class (for the teacher's overview).

Code is compared as token 5-grams ("shingles"): whitespace, comments, blank
lines and reordering of whole functions do not hide a copy, and what every student
shares (the stubs' signatures and docstrings) is ignored so that students who
merely left the same exercises untouched are not flagged.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping

from grader.assignment import Assignment
from grader.models import SimilarPair
from grader.submission import Submission

SHINGLE = 5
#: Jaccard similarity at or above which two submissions are flagged.
THRESHOLD = 0.85
#: Submissions with fewer own shingles than this are too small to judge.
MIN_SHINGLES = 40
#: Python's tokens as ``tokenize`` splits them, comments aside: strings (any
#: prefix, triple-quoted across lines), names and numbers, operators. One C-level
#: regex pass is 5x faster on a class than the pure-Python tokenizer, and any
#: text matches, so unparseable code needs no fallback. Every alternative inside
#: a string can match a character in one way only: an unterminated string full
#: of backslashes must fail in linear time, not try every way to split them.
_TOKEN = re.compile(
    r"""(?P<string>[rRbBuUfF]{0,2}(?:\"\"\"(?:[^"\\]|\\[\s\S]|"(?!""))*\"\"\"|'''(?:[^'\\]|\\[\s\S]|'(?!''))*'''|"(?:\\[\s\S]|[^"\\\n])*"|'(?:\\[\s\S]|[^'\\\n])*'))"""
    r"|(?P<comment>#[^\n]*|\\\r?\n)"  # a backslash-newline joins lines, like whitespace
    r"|(?P<number>0[xXoObB]\w+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?[\d_]+)?[jJ]?)"
    r"|(?P<word>[^\W\d]\w*)"
    r"|(?P<op>\*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%&|^@<>=!]=|\.\.\.|[^\s\w])"
)


def tokens(source: bytes) -> list[str]:
    """The tokens of ``source``, without comments and whitespace."""
    text = source.decode("utf-8", errors="replace")
    return [m.group() for m in _TOKEN.finditer(text) if m.lastgroup != "comment"]


def shingles(source: bytes) -> set[tuple[str, ...]]:
    """Token n-grams of ``source``."""
    words = tokens(source)
    return {tuple(words[i : i + SHINGLE]) for i in range(max(len(words) - SHINGLE + 1, 0))}


def find_similar(submissions: Mapping[str, Submission], assignment: Assignment) -> tuple[SimilarPair, ...]:
    """Pairs of students with at least one exercise module overlapping at or above ``THRESHOLD``.

    Exercises are compared one by one, so copying two exercises out of six
    is flagged too; the pair's similarity is the highest of its exercises'.
    """
    per_exercise: dict[str, dict[str, set[tuple[str, ...]]]] = {}
    for exercise in assignment.exercises:
        common = shingles(exercise.stub.read_bytes())
        students: dict[str, set[tuple[str, ...]]] = {}
        for name, submission in submissions.items():
            if exercise.name not in submission.exercises:
                continue
            grams = shingles(submission.files.get(f"{exercise.name}.py", b"")) - common
            if len(grams) >= MIN_SHINGLES:
                students[name] = grams
        per_exercise[exercise.name] = students
    matches: dict[tuple[str, str], list[tuple[str, float]]] = {}
    for module, students in per_exercise.items():
        # Students with the very same code (a shared copy, or the same reference
        # answer) are compared once as a group, not pair by pair.
        groups: dict[frozenset[tuple[str, ...]], list[str]] = {}
        for name, grams in sorted(students.items()):
            groups.setdefault(frozenset(grams), []).append(name)
        for members in groups.values():
            for a, b in itertools.combinations(members, 2):
                matches.setdefault((a, b), []).append((module, 1.0))
        for (ga, first), (gb, second) in itertools.combinations(groups.items(), 2):
            # Cheap bound first: Jaccard <= min/max of the set sizes.
            if min(len(ga), len(gb)) < THRESHOLD * max(len(ga), len(gb)):
                continue
            score = len(ga & gb) / len(ga | gb)
            if score >= THRESHOLD:
                for a in first:
                    for b in second:
                        matches.setdefault((min(a, b), max(a, b)), []).append((module, score))
    pairs = [
        SimilarPair(a, b, max(score for _, score in found), tuple(module for module, _ in found))
        for (a, b), found in matches.items()
    ]
    return tuple(sorted(pairs, key=lambda p: (-p.similarity, p.first, p.second)))
