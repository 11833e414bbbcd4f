"""Group identical or near-identical submissions of a class into clusters (for the teacher's overview).

Code is compared as token 5-grams ("shingles"): whitespace, comments, blank
lines and reordering of whole functions do not hide a copy, and what every student
shares (the stubs' signatures and docstrings) is ignored so that students who
merely left the same exercises untouched are not flagged.

Comparing every pair grows with the square of the class (300 students handing
in the same answer are 44,850 pairs), so students are grouped instead: exact
copies by their set of shingles, near-copies through MinHash signatures and
locality-sensitive hashing (``datasketch``), which proposes candidates in
near-linear time; each candidate is confirmed with the exact Jaccard similarity
before two groups are joined. An exercise with few distinct versions (a class
of a couple of hundred) has every pair measured exactly instead, which costs
less than building the index. A cluster is a connected group: two students are
in it when a chain of confirmed copies links them, in any exercise.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence

from grader.assignment import Assignment
from grader.bounds import MAX_SUBMISSION_PARSE_TOKENS, Unreadable, check_source
from grader.models import SimilarCluster
from grader.notebook import without_bookkeeping
from grader.submission import Submission

SHINGLE = 5
#: Bumped whenever what counts as similar changes, so cached clusters are recomputed.
SIMILARITY_VERSION = 3
#: Jaccard similarity at or above which two submissions are flagged.
THRESHOLD = 0.85
#: Submissions with fewer own shingles than this are too small to judge.
MIN_SHINGLES = 40
#: MinHash signature length and LSH banding (bands x rows <= permutations). Two
#: submissions become candidates with probability 1 - (1 - J**7)**18: 0.999 at
#: the threshold, 0.13 at J = 0.5, so few candidates need the exact check.
PERMUTATIONS = 128
BANDS, ROWS = 18, 7
SEED = 1
#: Up to this many pairs of distinct code in an exercise (about 200 versions), every
#: pair is measured exactly instead: cheaper than building the index, and exact.
ALL_PAIRS = 20_000
#: Python's tokens as ``tokenize`` splits them, comments aside: strings (any
#: prefix, triple-quoted across lines), names and numbers, operators. One C-level
#: regex pass is 5x faster on a class than the pure-Python tokenizer, and any
#: text matches, so unparseable code needs no fallback. Every alternative inside
#: a string can match a character in one way only: an unterminated string full
#: of backslashes must fail in linear time, not try every way to split them.
#: Their repeats are possessive (``*+``): giving characters back never finds
#: another closing quote, and without it the engine keeps a backtracking point
#: per character (130 MiB for a 1 MB string literal).
_TOKEN = re.compile(
    r"(?:#[^\n]*|\\\r?\n)"  # a comment, or a backslash-newline (joins lines, like whitespace): no group
    r"|("
    r"""[rRbBuUfF]{0,2}(?:\"\"\"(?:[^"\\]|\\[\s\S]|"(?!""))*+\"\"\"|'''(?:[^'\\]|\\[\s\S]|'(?!''))*+'''|"(?:\\[\s\S]|[^"\\\n])*+"|'(?:\\[\s\S]|[^'\\\n])*+')"""
    r"|0[xXoObB]\w+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?[\d_]+)?[jJ]?"  # a number
    r"|[^\W\d]\w*"  # a name
    r"|\*\*=?|//=?|>>=?|<<=?|->|:=|[-+*/%&|^@<>=!]=|\.\.\.|[^\s\w]"  # an operator
    r")"
)


def tokens(source: bytes) -> list[str]:
    """The tokens of ``source``, without comments and whitespace."""
    # findall gives the one group: a token, or "" where a comment matched.
    return list(filter(None, _TOKEN.findall(source.decode("utf-8", errors="replace"))))


def shingles(source: bytes) -> set[tuple[str, ...]]:
    """Token n-grams of ``source``."""
    return set(_grams(source))


def _grams(source: bytes) -> Iterator[tuple[str, ...]]:
    """Each token n-gram of ``source``, in order, repeats included."""
    words = tokens(source)
    return zip(*(words[i:] for i in range(SHINGLE)), strict=False)


Shingles = frozenset[int]


class _Numbered:
    """Each distinct shingle of one exercise as a number of its own, given the first time it is met.

    A class's comparisons then hash, copy and intersect sets of small ints
    rather than sets of token tuples (a tuple's hash is computed anew each
    time it is asked for). The numbers are labels only: which sets are equal,
    and how much any two share, is the same as for the shingles themselves.
    """

    def __init__(self) -> None:
        #: Shingle -> its number; every number is another (drawn from one counter).
        self.numbers: dict[tuple[str, ...], int] = {}
        self._next = itertools.count()

    def shingles(self, source: bytes) -> set[int]:
        """``shingles(source)``, each as its number."""
        return set(map(self.numbers.setdefault, _grams(source), self._next))


class _Forest:
    """Union-find over students, remembering the links (exercise, similarity) that joined each group."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.links: dict[str, list[tuple[str, float]]] = {}

    def root(self, name: str) -> str:
        parent = self.parent.setdefault(name, name)
        while parent != name:  # path halving keeps the trees flat
            grand = self.parent[parent]
            self.parent[name] = grand
            name, parent = parent, self.parent[grand]
        return name

    def join(self, first: str, second: str, exercise: str, similarity: float) -> None:
        a, b = self.root(first), self.root(second)
        if a == b:
            return
        a, b = min(a, b), max(a, b)  # the smaller name is the root: the result never depends on order
        self.parent[b] = a
        self.links.setdefault(a, []).extend([*self.links.pop(b, []), (exercise, similarity)])

    def clusters(self, order: Sequence[str]) -> tuple[SimilarCluster, ...]:
        members: dict[str, list[str]] = {}
        for name in sorted(self.parent):
            members.setdefault(self.root(name), []).append(name)
        rank = {exercise: index for index, exercise in enumerate(order)}
        found = []
        for root, names in members.items():
            if len(names) < 2:
                continue
            links = self.links[root]
            exercises = sorted({exercise for exercise, _ in links}, key=lambda e: (rank.get(e, len(rank)), e))
            found.append(SimilarCluster(tuple(names), min(score for _, score in links), tuple(exercises)))
        return tuple(sorted(found, key=lambda c: (-len(c.students), -c.similarity, c.students)))


def find_similar(submissions: Mapping[str, Submission], assignment: Assignment) -> tuple[SimilarCluster, ...]:
    """Clusters of students whose code in some exercise overlaps at or above ``THRESHOLD``, largest first.

    Exercises are compared one by one, so copying two exercises out of six
    is found too; a cluster lists the exercises whose copies joined it.
    """
    forest = _Forest()
    # What each student's sources may still cost to compare, as their parse does (``bounds``).
    left = dict.fromkeys(submissions, MAX_SUBMISSION_PARSE_TOKENS)
    for exercise in assignment.exercises:
        numbered = _Numbered()
        common = numbered.shingles(exercise.stub.read_bytes())
        copies: dict[Shingles, list[str]] = {}
        for name in sorted(submissions):
            submission = submissions[name]
            if exercise.name not in submission.exercises:
                continue
            source = submission.files.get(f"{exercise.name}.py", b"")
            try:  # bounded as reading the submission bounded it, from the tokens it counted
                left[name] -= check_source(source, left=left[name], tokens=submission.tokens.get(exercise.name))
            except Unreadable:
                continue
            grams = numbered.shingles(without_bookkeeping(source))
            grams -= common
            if len(grams) >= MIN_SHINGLES:
                copies.setdefault(frozenset(grams), []).append(name)
        for names in copies.values():
            for other in names[1:]:
                forest.join(names[0], other, exercise.name, 1.0)
        _join_near_copies(forest, exercise.name, list(copies.items()), numbered.numbers)
    return forest.clusters([exercise.name for exercise in assignment.exercises])


def _join_near_copies(
    forest: _Forest,
    exercise: str,
    copies: Sequence[tuple[Shingles, list[str]]],
    numbers: Mapping[tuple[str, ...], int],
) -> None:
    """Join the groups of ``copies`` (distinct code, each with its students) that are near-copies of each other.

    Their shingles are numbered (``numbers``: shingle -> number), so the exact
    Jaccard below compares sets of ints, several times faster than sets of token tuples.
    """
    if len(copies) < 2:
        return
    sets = [grams for grams, _ in copies]
    sizes = [len(grams) for grams in sets]
    # Only shingles found in two versions or more can be shared. Honest students who
    # built on the same base differ by their own shingles alone, so their shared
    # parts are often one set: each pair of shared parts is intersected once.
    found = Counter(itertools.chain.from_iterable(sets))
    own = {number for number, count in found.items() if count == 1}
    part_of: dict[frozenset[int], int] = {}
    parts = [part_of.setdefault(grams - own, len(part_of)) for grams in sets]
    shared_parts = list(part_of)
    # Remembered only where it can be asked again: a part of more than one version.
    repeated = {part for part, versions in Counter(parts).items() if versions > 1}
    overlaps: dict[tuple[int, int], int] = {}
    for key, others in enumerate(_candidates(sets, numbers)):
        names, size, part = copies[key][1], sizes[key], parts[key]
        # Cheapest first: Jaccard <= min/max of the set sizes, which rules out most pairs
        # (min(a, b) < THRESHOLD * max(a, b), written without calling min and max).
        low = THRESHOLD * size
        for other in others:
            other_size = sizes[other]
            if other_size < low or size < THRESHOLD * other_size:
                continue
            other_names = copies[other][1]
            if forest.root(names[0]) == forest.root(other_names[0]):
                continue  # already one group: no need to measure this link
            pair = (part, parts[other]) if part <= parts[other] else (parts[other], part)
            shared = overlaps.get(pair)
            if shared is None:
                shared = len(shared_parts[pair[0]] & shared_parts[pair[1]])
                if pair[0] in repeated or pair[1] in repeated:
                    overlaps[pair] = shared
            score = shared / (size + other_size - shared)
            if score >= THRESHOLD:
                forest.join(names[0], other_names[0], exercise, score)


def _candidates(sets: Sequence[frozenset[int]], numbers: Mapping[tuple[str, ...], int]) -> list[Iterable[int]]:
    """For each set, the later sets (ascending) that may be near-copies of it; shingle ``g`` is ``numbers[g]``.

    Up to ``ALL_PAIRS`` pairs, every pair is a candidate: measuring them all
    costs less than importing ``datasketch`` (which imports scipy), and misses
    none. Beyond, MinHash LSH proposes the pairs.
    """
    count = len(sets)
    if count * (count - 1) // 2 <= ALL_PAIRS:
        return [range(key + 1, count) for key in range(count)]
    # Imported here: datasketch's LSH module imports scipy (about a third of a
    # second of CPU), paid only by a class with that much to compare.
    from datasketch import MinHash, MinHashLSH
    from datasketch.hashfunc import sha1_hash32

    # Each shingle is hashed once, not once per student who wrote it.
    used = set().union(*sets)
    hashes = {number: sha1_hash32("\x1f".join(gram).encode()) for gram, number in numbers.items() if number in used}
    signatures = list(
        MinHash.generator(sets, num_perm=PERMUTATIONS, seed=SEED, scheme="affine32", hashfunc=hashes.__getitem__)
    )
    index = MinHashLSH(num_perm=PERMUTATIONS, params=(BANDS, ROWS))
    for key, signature in enumerate(signatures):
        index.insert(key, signature, check_duplication=False)
    return [
        sorted(other for other in index.query(signature) if other > key) for key, signature in enumerate(signatures)
    ]
