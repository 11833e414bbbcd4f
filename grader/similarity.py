"""Flag identical or near-identical submissions in a class (for the teacher's overview).

Code is compared as token 5-grams ("shingles"): whitespace, comments, blank
lines and reordering of whole functions do not hide a copy, and what every student
shares (the stubs' signatures and docstrings) is ignored so that students who
merely left the same exercises untouched are not flagged.
"""

from __future__ import annotations

import io
import itertools
import tokenize
from collections.abc import Mapping

from grader.assignment import Assignment
from grader.models import SimilarPair
from grader.submission import Submission

SHINGLE = 5
#: Jaccard similarity at or above which two submissions are flagged.
THRESHOLD = 0.85
#: Submissions with fewer own shingles than this are too small to judge.
MIN_SHINGLES = 40
_SKIP = {
    tokenize.COMMENT,
    tokenize.NL,
    tokenize.NEWLINE,
    tokenize.INDENT,
    tokenize.DEDENT,
    tokenize.ENCODING,
    tokenize.ENDMARKER,
}


def shingles(source: bytes) -> set[tuple[str, ...]]:
    """Token n-grams of ``source``; unparseable code falls back to whitespace-split words."""
    try:
        words = [tok.string for tok in tokenize.tokenize(io.BytesIO(source).readline) if tok.type not in _SKIP]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        words = source.decode("utf-8", errors="replace").split()
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
        for (a, ga), (b, gb) in itertools.combinations(sorted(students.items()), 2):
            # Cheap bound first: Jaccard <= min/max of the set sizes.
            if min(len(ga), len(gb)) < THRESHOLD * max(len(ga), len(gb)):
                continue
            score = len(ga & gb) / len(ga | gb)
            if score >= THRESHOLD:
                matches.setdefault((a, b), []).append((module, score))
    pairs = [
        SimilarPair(a, b, max(score for _, score in found), tuple(module for module, _ in found))
        for (a, b), found in matches.items()
    ]
    return tuple(sorted(pairs, key=lambda p: (-p.similarity, p.first, p.second)))
