"""Flag identical or near-identical submissions in a class (for the teacher's overview).

Code is compared as token 5-grams ("shingles"): whitespace, blank lines and
reordering of whole functions do not hide a copy, and what every student
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
_SKIP = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING, tokenize.ENDMARKER}


def shingles(source: bytes) -> set[tuple[str, ...]]:
    """Token n-grams of ``source``; unparseable code falls back to whitespace-split words."""
    try:
        words = [tok.string for tok in tokenize.tokenize(io.BytesIO(source).readline) if tok.type not in _SKIP]
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        words = source.decode("utf-8", errors="replace").split()
    return {tuple(words[i : i + SHINGLE]) for i in range(max(len(words) - SHINGLE + 1, 0))}


def find_similar(submissions: Mapping[str, Submission], assignment: Assignment) -> tuple[SimilarPair, ...]:
    """Pairs of students whose attempted code overlaps at or above ``THRESHOLD``."""
    common: set[tuple[str, ...]] = set()
    for exercise in assignment.exercises:
        common |= shingles(exercise.stub.read_bytes())
    own: dict[str, tuple[set[tuple[str, ...]], set[str]]] = {}
    for name, submission in submissions.items():
        grams: set[tuple[str, ...]] = set()
        for module in submission.exercises:
            grams |= shingles(submission.files.get(f"{module}.py", b""))
        grams -= common
        if len(grams) >= MIN_SHINGLES:
            own[name] = (grams, set(submission.exercises))
    pairs = []
    for (a, (ga, ea)), (b, (gb, eb)) in itertools.combinations(sorted(own.items()), 2):
        # Cheap bound first: Jaccard <= min/max of the set sizes.
        if min(len(ga), len(gb)) < THRESHOLD * max(len(ga), len(gb)):
            continue
        score = len(ga & gb) / len(ga | gb)
        if score >= THRESHOLD:
            pairs.append(SimilarPair(a, b, score, tuple(e for e in assignment.names if e in ea & eb)))
    return tuple(sorted(pairs, key=lambda p: (-p.similarity, p.first, p.second)))
