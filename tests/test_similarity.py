"""Similar-submission detection: copies are flagged, shared stubs and independent work are not."""

from __future__ import annotations

import dataclasses
import re

import pytest

import grader.bounds as bounds_module
from grader.assignment import Assignment
from grader.models import SimilarCluster
from grader.notebook import code_cells_notebook
from grader.similarity import MIN_SHINGLES, THRESHOLD, find_similar, shingles
from grader.submission import Submission, build_submission

EX05 = "ex05_activations"

SOLUTION_A = '''
import torch
from torch import nn


def apply_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Sigmoid, computed stably for large magnitudes."""
    positive = x >= 0
    out = torch.empty_like(x)
    out[positive] = 1.0 / (1.0 + torch.exp(-x[positive]))
    exp_x = torch.exp(x[~positive])
    out[~positive] = exp_x / (1.0 + exp_x)
    return out


def apply_softmax(x: torch.Tensor, dim: int) -> torch.Tensor:
    shifted = x - x.max(dim=dim, keepdim=True).values
    exps = shifted.exp()
    return exps / exps.sum(dim=dim, keepdim=True)


def binary_classifier(n_features: int) -> nn.Sequential:
    layers = [nn.Linear(n_features, 1), nn.Sigmoid()]
    return nn.Sequential(*layers)


def multiclass_classifier(n_features: int, n_classes: int) -> nn.Sequential:
    model = nn.Sequential()
    model.append(nn.Linear(in_features=n_features, out_features=n_classes))
    model.append(nn.Softmax(dim=-1))
    return model
'''

SOLUTION_B = """
import torch
import torch.nn.functional as F
from torch import nn
from collections import OrderedDict


def apply_sigmoid(x):
    return torch.where(x < 0, torch.exp(x) / (torch.exp(x) + 1), 1 / (torch.exp(-x) + 1))


def apply_softmax(x, dim):
    logsumexp = torch.logsumexp(x, dim, keepdim=True)
    result = torch.exp(x - logsumexp)
    assert result.shape == x.shape
    return result


def binary_classifier(n_features):
    return nn.Sequential(OrderedDict([("fc", nn.Linear(n_features, 1)), ("act", nn.Sigmoid())]))


def multiclass_classifier(n_features, n_classes):
    head = nn.Linear(n_features, n_classes, bias=True)
    probabilities = nn.Softmax(dim=1)
    return nn.Sequential(head, probabilities)


def _unused_helper(values):
    return F.softmax(torch.as_tensor(values, dtype=torch.float32), dim=0).tolist()
"""


def sub(name: str, source: str | bytes, bundled: Assignment) -> Submission:
    data = source.encode() if isinstance(source, str) else source
    return build_submission({f"{EX05}.py": data}, bundled, name=name)


def test_solutions_are_big_enough_to_judge() -> None:
    assert len(shingles(SOLUTION_A.encode())) >= MIN_SHINGLES
    assert len(shingles(SOLUTION_B.encode())) >= MIN_SHINGLES


def test_identical_submissions_are_flagged_with_similarity_one(bundled: Assignment) -> None:
    found = find_similar({"bob": sub("bob", SOLUTION_A, bundled), "alice": sub("alice", SOLUTION_A, bundled)}, bundled)
    assert found == (SimilarCluster(("alice", "bob"), 1.0, (EX05,)),)
    assert found[0].to_dict() == {"students": ["alice", "bob"], "similarity": 1.0, "exercises": [EX05]}


def test_whitespace_and_blank_line_changes_are_still_flagged(bundled: Assignment) -> None:
    reformatted = re.sub(r"\n\n\n", "\n\n\n\n\n", SOLUTION_A)
    reformatted = "\n".join(
        line if '"""' in line else line.replace(" = ", "   =   ").replace(", ", " ,  ").replace("    ", "        ")
        for line in reformatted.splitlines()
    )
    found = find_similar({"a": sub("a", SOLUTION_A, bundled), "b": sub("b", reformatted, bundled)}, bundled)
    assert [(c.students, c.similarity) for c in found] == [(("a", "b"), 1.0)]


def test_the_same_notebook_under_another_name_with_blank_lines_added_is_an_exact_copy(bundled: Assignment) -> None:
    # Each notebook's module names its file and maps its cells' lines: bookkeeping, not code to compare.
    cells = [f"import torch\nfrom torch import nn\n\n{SOLUTION_A.split('from torch import nn', 1)[1]}", "print(1)"]
    spaced = ["\n\n" + cells[0].replace("\n\n", "\n\n\n"), *cells[1:]]
    found = find_similar(
        {
            "alice": build_submission({"alice.ipynb": code_cells_notebook(cells).encode()}, bundled, name="alice"),
            "bob": build_submission({"copy (1).ipynb": code_cells_notebook(spaced).encode()}, bundled, name="bob"),
        },
        bundled,
    )
    assert found == (SimilarCluster(("alice", "bob"), 1.0, (EX05,)),)


def test_reordered_functions_are_still_flagged(bundled: Assignment) -> None:
    blocks = SOLUTION_A.split("\n\n\ndef ")
    reordered = "\n\n\ndef ".join([blocks[0], *reversed(blocks[1:])])
    found = find_similar({"a": sub("a", SOLUTION_A, bundled), "b": sub("b", reordered, bundled)}, bundled)
    assert len(found) == 1 and found[0].similarity >= THRESHOLD


def test_a_few_comments_added_are_still_flagged(bundled: Assignment) -> None:
    commented = SOLUTION_A.replace("    return out\n", "    # done\n    return out\n")
    commented = commented.replace("def apply_softmax", "# softmax below\ndef apply_softmax")
    found = find_similar({"a": sub("a", SOLUTION_A, bundled), "b": sub("b", commented, bundled)}, bundled)
    assert [(c.students, c.similarity) for c in found] == [(("a", "b"), 1.0)]  # comments are ignored


def test_comment_on_every_line_is_still_flagged(bundled: Assignment) -> None:
    commented = "\n".join(f"{line}  # mine" if line.strip() else line for line in SOLUTION_A.splitlines())
    found = find_similar({"a": sub("a", SOLUTION_A, bundled), "b": sub("b", commented, bundled)}, bundled)
    assert len(found) == 1


def test_copying_one_exercise_of_several_is_flagged_for_that_exercise(bundled: Assignment) -> None:
    full = {f"{e.name}.py": e.solution.read_bytes() for e in bundled.exercises}
    partial = {f"{EX05}.py": full[f"{EX05}.py"]}
    students = {
        "ada": build_submission(full, bundled, name="ada"),
        "farid": build_submission(partial, bundled, name="farid"),
    }
    found = find_similar(students, bundled)
    assert [(c.students, c.exercises) for c in found] == [(("ada", "farid"), (EX05,))]


def test_stub_only_submissions_are_never_flagged(bundled: Assignment) -> None:
    stub = bundled.exercise(EX05).stub.read_bytes()
    students = {name: sub(name, stub, bundled) for name in ("a", "b", "c")}
    assert find_similar(students, bundled) == ()


def test_stub_with_one_line_changed_is_not_flagged(bundled: Assignment) -> None:
    stub = bundled.exercise(EX05).stub.read_text()
    one = stub.replace("raise NotImplementedError", "return torch.sigmoid(x)", 1)
    students = {name: sub(name, one, bundled) for name in ("a", "b")}
    assert find_similar(students, bundled) == ()


def test_small_submissions_below_min_shingles_are_not_flagged(bundled: Assignment) -> None:
    small = "import torch\n\ndef apply_sigmoid(x):\n    return torch.sigmoid(x)\n"
    assert len(shingles(small.encode())) < MIN_SHINGLES
    students = {name: sub(name, small, bundled) for name in ("a", "b")}
    assert find_similar(students, bundled) == ()


def test_different_correct_solutions_are_not_flagged(bundled: Assignment) -> None:
    students = {"a": sub("a", SOLUTION_A, bundled), "b": sub("b", SOLUTION_B, bundled)}
    assert find_similar(students, bundled) == ()
    grams_a, grams_b = shingles(SOLUTION_A.encode()), shingles(SOLUTION_B.encode())
    assert len(grams_a & grams_b) / len(grams_a | grams_b) < 0.2


def test_students_without_the_exercise_are_ignored(bundled: Assignment) -> None:
    empty = build_submission({}, bundled, name="empty")
    other = build_submission({"notes.py": SOLUTION_A.encode()}, bundled, name="other")
    assert other.exercises == (EX05,)  # pooled: notes.py provides ex05
    found = find_similar({"empty": empty, "other": other, "a": sub("a", SOLUTION_A, bundled)}, bundled)
    assert [c.students for c in found] == [("a", "other")]


def test_unparseable_code_is_still_compared(bundled: Assignment) -> None:
    broken = SOLUTION_A.replace("def apply_softmax(x: torch.Tensor, dim: int)", "def apply_softmax(x dim")
    broken += '\n"""unterminated\n'
    found = find_similar({"a": sub("a", broken, bundled), "b": sub("b", broken, bundled)}, bundled)
    assert len(found) == 1 and found[0].similarity == 1.0


def variant(number: int) -> str:
    """SOLUTION_A with one local variable renamed: a near copy (Jaccard about 0.9), unique per ``number``."""
    return SOLUTION_A.replace("shifted", f"shifted_{number}")


def test_the_tokens_reading_counted_are_not_counted_again(bundled: Assignment, monkeypatch: pytest.MonkeyPatch) -> None:
    filler = "".join(f"v{i} = {i}\n" for i in range(14_000))  # over the 40,000 tokens a module is read up to
    submissions = {
        "alice": sub("alice", SOLUTION_A, bundled),
        "bob": sub("bob", SOLUTION_A, bundled),
        "carol": sub("carol", SOLUTION_A + filler, bundled),  # not counted in full: counted here, and refused
    }
    assert [name for name, s in submissions.items() if s.tokens] == ["alice", "bob"]
    counted: list[int] = []
    count_tokens = bounds_module.count_tokens

    def counting(source: bytes) -> int:
        counted.append(1)
        return count_tokens(source)

    monkeypatch.setattr(bounds_module, "count_tokens", counting)
    found = find_similar(submissions, bundled)
    assert len(counted) == 1  # carol's
    unknown = {name: dataclasses.replace(s, tokens={}) for name, s in submissions.items()}
    assert find_similar(unknown, bundled) == found == (SimilarCluster(("alice", "bob"), 1.0, (EX05,)),)
    assert len(counted) == 4


def test_clusters_are_groups_largest_first_and_deterministic(bundled: Assignment) -> None:
    sources = {"zoe": SOLUTION_A, "adam": SOLUTION_A, "mia": variant(1), "bea": SOLUTION_B, "carl": SOLUTION_B}
    students = {name: sub(name, source, bundled) for name, source in sources.items()}
    found = find_similar(students, bundled)
    # One entry per group, members sorted; the copies of A and the near copy are one group.
    assert [c.students for c in found] == [("adam", "mia", "zoe"), ("bea", "carl")]
    assert THRESHOLD <= found[0].similarity < 1.0 and found[1].similarity == 1.0
    assert found[0].exercises == found[1].exercises == (EX05,)
    shuffled = dict(reversed(list(students.items())))
    assert find_similar(shuffled, bundled) == found


def test_hundreds_of_copies_are_one_entry_not_pairs(bundled: Assignment) -> None:
    # 300 students handing in the same answer were 44,850 pairs; 150 near copies
    # (each renaming a variable its own way) and 50 honest students join them.
    students = {f"copy{i:03d}": sub(f"copy{i:03d}", SOLUTION_A, bundled) for i in range(300)}
    students |= {f"near{i:03d}": sub(f"near{i:03d}", variant(i), bundled) for i in range(150)}
    students |= {
        f"own{i:02d}": sub(f"own{i:02d}", SOLUTION_B.replace("values", f"v{i}") * (1 + i % 2), bundled)
        for i in range(50)
    }
    found = find_similar(students, bundled)
    assert len(found) <= len(students)
    assert found[0].students == tuple(sorted(n for n in students if not n.startswith("own")))
    assert found[0].similarity >= THRESHOLD
    members = [name for cluster in found for name in cluster.students]
    assert len(members) == len(set(members))  # a student is in one group at most
    assert all(len(c.students) >= 2 for c in found)


def test_a_chain_of_copies_across_exercises_is_one_group(bundled: Assignment) -> None:
    # ana and ben share ex05; ben and cy share ex04: one group, both exercises named.
    ex04 = bundled.exercise("ex04_sequential").solution.read_bytes()
    own04 = b"import torch\n\n" + b"\n".join(
        f"def helper_{i}(t):\n    return torch.as_tensor(t).reshape(-1).sum() * {i} + len(str(t))\n".encode()
        for i in range(12)
    )
    files = {
        "ana": {f"{EX05}.py": SOLUTION_A.encode(), "ex04_sequential.py": own04},
        "ben": {f"{EX05}.py": SOLUTION_A.encode(), "ex04_sequential.py": ex04},
        "cy": {f"{EX05}.py": SOLUTION_B.encode(), "ex04_sequential.py": ex04},
    }
    students = {name: build_submission(data, bundled, name=name) for name, data in files.items()}
    found = find_similar(students, bundled)
    assert [(c.students, c.exercises) for c in found] == [(("ana", "ben", "cy"), ("ex04_sequential", EX05))]


def test_tokens_match_pythons_own_tokenizer() -> None:
    # The fast regex tokenizer must split code as `tokenize` does (comments and
    # layout aside), or reformatting a copy could hide it. Checked on the grader's
    # own sources plus the corner cases a regex gets wrong first.
    import io
    import tokenize
    from pathlib import Path

    import grader
    from grader.similarity import tokens

    layout = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    layout |= {tokenize.ENCODING, tokenize.ENDMARKER}
    tricky = (
        b"x = 1e-5 + .5j + 0x_ff + 1_000.0E+3  # comment\n"
        b'y = rb"\\"" + f\'{x!r}\' + """a \\""" b"""\n'
        b"z = (a ** 2 // 3 >> 1) -> None := ... \\\n    != 4\n"
        b"s = 'line \\\ncontinued'\n"
    )
    sources = [tricky] + [p.read_bytes() for p in sorted(Path(grader.__file__).parent.rglob("*.py"))]
    for source in sources:
        expected = [t.string for t in tokenize.tokenize(io.BytesIO(source).readline) if t.type not in layout]
        assert tokens(source) == expected


def test_unterminated_strings_full_of_backslashes_are_tokenized_at_once() -> None:
    # A string pattern that could split a backslash run two ways backtracked
    # exponentially on an unterminated string: 40 backslashes hung a batch's
    # main process. Run in a child so a regression fails instead of hanging.
    import subprocess
    import sys

    script = (
        "from grader.similarity import tokens\n"
        "for quote in ('\"\"\"', \"'''\", '\"', \"'\", 'rb\"'):\n"
        "    tokens((quote + '\\\\' * 5000 + 'x\\n').encode() * 3)\n"
        "print('done')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "done", done.stderr


def test_measuring_every_pair_and_the_lsh_index_find_the_same_clusters(
    bundled: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small class measures every pair exactly; a big one asks MinHash LSH for
    # candidates. Both must give the same groups, links and order.
    import grader.similarity

    sources = {f"copy{i}": SOLUTION_A for i in range(3)} | {f"near{i}": variant(i) for i in range(6)}
    sources |= {f"own{i}": SOLUTION_B.replace("values", f"v{i}") * (1 + i % 3) for i in range(6)}
    sources |= {"pair1": SOLUTION_B, "pair2": SOLUTION_B.replace("    ", "\t")}
    students = {name: sub(name, source, bundled) for name, source in sources.items()}
    every_pair = find_similar(students, bundled)
    monkeypatch.setattr(grader.similarity, "ALL_PAIRS", 0)
    assert find_similar(students, bundled) == every_pair
    copies_of_a = sorted([*(f"copy{i}" for i in range(3)), *(f"near{i}" for i in range(6))])
    copies_of_b = sorted([*(f"own{i}" for i in range(6)), "pair1", "pair2"])
    assert [c.students for c in every_pair] == [tuple(copies_of_a), tuple(copies_of_b)]
    assert THRESHOLD <= every_pair[0].similarity < 1.0


def test_students_sharing_a_base_are_joined_exactly_when_their_jaccard_says_so(bundled: Assignment) -> None:
    # Everyone builds on SOLUTION_A and adds code of their own, more or less of it:
    # only those whose own part is small are near copies. The clusters must be the
    # connected groups of the pairs an exact Jaccard puts at or above the threshold.
    def own(i: int) -> str:
        return "".join(f"\n\ndef extra_{i}_{k}(t):\n    return t * {i} + {k} - len(t)\n" for k in range(i % 7))

    sources = {f"s{i:02d}": SOLUTION_A + own(i) for i in range(40)}
    students = {name: sub(name, source, bundled) for name, source in sources.items()}
    common = shingles(bundled.exercise(EX05).stub.read_bytes())
    grams = {name: shingles(students[name].files[f"{EX05}.py"]) - common for name in students}
    groups = {name: {name} for name in students}
    for a in students:
        for b in students:
            if a < b and len(grams[a] & grams[b]) / len(grams[a] | grams[b]) >= THRESHOLD:
                merged = groups[a] | groups[b]
                for member in merged:
                    groups[member] = merged
    expected = sorted({tuple(sorted(g)) for g in groups.values() if len(g) > 1}, key=lambda g: (-len(g), g))
    assert 2 <= len(expected[0]) < len(students)  # some are copies, some are not
    assert [c.students for c in find_similar(students, bundled)] == expected


def test_each_distinct_shingle_of_an_exercise_gets_a_number_of_its_own() -> None:
    # The class is compared as sets of numbers, one per distinct shingle: the sets
    # must be as large as the shingles' and share exactly what the shingles share.
    from grader.similarity import _Numbered

    numbered = _Numbered()
    sources = [SOLUTION_A.encode(), SOLUTION_B.encode(), (SOLUTION_A + SOLUTION_B).encode(), SOLUTION_A.encode()]
    sets = [numbered.shingles(source) for source in sources]
    grams = [shingles(source) for source in sources]
    assert all(isinstance(number, int) for number in set().union(*sets))
    assert len(numbered.numbers) == len(set().union(*grams))
    for a in range(len(sources)):
        assert len(sets[a]) == len(grams[a])
        for b in range(len(sources)):
            assert len(sets[a] & sets[b]) == len(grams[a] & grams[b])
    assert sets[0] == sets[3]
