"""Hostile student input at every reader: each one costs its student a reason, never the class a crash.

Every hostile file is generated under ``tmp_path`` (the big ones are a few
MB, never committed). The fast tests read; the slow ones grade a class with
an honest student beside the hostile ones, who must keep full marks.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import pickle
import socket
import threading
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import grader.bounds as bounds_module
import grader.roster as roster_module
import grader.roster.tree as tree_module
import grader.sandbox.runner as runner_module
import grader.submission as submission_module
from grader.assignment import Assignment
from grader.bounds import (
    MAX_CELLS,
    MAX_DIR_DEPTH,
    MAX_FILE_BYTES,
    MAX_JSON_COST_BYTES,
    MAX_PARSE_TOKENS,
    MAX_SUBMISSION_PARSE_TOKENS,
    Unreadable,
    check_json,
    json_cost,
    read_regular,
)
from grader.cli import cli
from grader.engine import receive_submission, send_submission
from grader.errors import UsageError
from grader.grading import Grader
from grader.notebook import MAX_NOTES, notebook_to_source
from grader.roster import open_roster, read_submission
from grader.roster.tree import extract_class
from grader.submission import MAX_PROBLEMS, Submission, build_submission, load_submission

CORRECT = "def double(x):\n    return x + x\n\n\ndef shout(text):\n    return text.upper() + '!'\n"
NOTEBOOK_HEAD = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": '


# --- the hostile inputs, generated ---------------------------------------------------------


def sum_of_ones(count: int = 150_000) -> str:
    """``1+1+...+1`` (300 KB by default): ``ast.parse`` raises RecursionError building the tree."""
    return "x = " + "1+" * count + "1\n" + CORRECT


def unary_minuses(count: int = 200_000) -> str:
    """Unary minus signs: from about 6,000 of them CPython's parser gives up with MemoryError."""
    return "x = " + "-" * count + "1\n" + CORRECT


def deep_list() -> str:
    """1,000 nested lists: the tokenizer refuses them as a syntax error (the worker reports it)."""
    return "x = " + "[" * 1_000 + "]" * 1_000 + "\n" + CORRECT


def long_string() -> str:
    """A 2 MB string literal: one token, but over the bytes the grading process parses."""
    return "x = '" + "a" * 2_000_000 + "'\n" + CORRECT


def many_statements() -> str:
    """480 KB of ``x=1``: a syntax tree of several hundred MB if parsed."""
    return "x=1\n" * 120_000 + CORRECT


def deep_notebook() -> str:
    return NOTEBOOK_HEAD + "[" * 100_000 + "]" * 100_000 + "}"


def million_cells() -> str:
    return NOTEBOOK_HEAD + "[" + ",".join(["{}"] * 1_000_000) + "]}"


def costly_notebook() -> str:
    """60,000 empty objects in one output: 200 KB of JSON that json.loads and nbformat would make 30 MiB of."""
    data = '{"application/json": [' + ",".join(["{}"] * 60_000) + "]}"
    output = f'{{"output_type": "execute_result", "execution_count": 1, "metadata": {{}}, "data": {data}}}'
    cell = f'{{"cell_type": "code", "execution_count": 1, "metadata": {{}}, "source": "x = 1", "outputs": [{output}]}}'
    return NOTEBOOK_HEAD + "[" + cell + "]}"


def _notebook(outputs: list[object], cells: int = 1) -> bytes:
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": ["x = 1\n"], "outputs": outputs}
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell] * cells}).encode()


#: Notebooks of every shape that costs memory to read, each at a size ``json_cost`` admits; made when a
#: test asks (tens of MB of JSON, which every test process would otherwise build when it collects).
NOTEBOOK_SHAPES: dict[str, Callable[[], bytes]] = {
    "an image": lambda: _notebook(
        [{"output_type": "display_data", "metadata": {}, "data": {"image/png": "A" * 12_000_000}}]
    ),
    "100,000 printed lines": lambda: _notebook(
        [
            {
                "output_type": "stream",
                "name": "stdout",
                "text": [f"epoch {i:6} loss 0.1234 acc 0.98\n" for i in range(100_000)],
            }
        ]
    ),
    "numbers": lambda: _notebook(
        [
            {
                "output_type": "execute_result",
                "execution_count": 1,
                "metadata": {},
                "data": {"application/json": list(range(150_000))},
            }
        ]
    ),
    "small objects": lambda: _notebook(
        [
            {
                "output_type": "execute_result",
                "execution_count": 1,
                "metadata": {},
                "data": {"application/json": [{"a": 1}] * 40_000},
            }
        ]
    ),
    "8,000 outputs": lambda: _notebook([{"output_type": "stream", "name": "stdout", "text": "a"}] * 8_000),
    "2,000 cells": lambda: _notebook([], cells=2_000),
}


def too_many_cells() -> str:
    cell = '{"cell_type": "code", "source": "", "metadata": {}, "outputs": [], "execution_count": null}'
    return NOTEBOOK_HEAD + "[" + ",".join([cell] * (MAX_CELLS + 1)) + "]}"


def alias_bomb(levels: int = 7, name: int = 6) -> str:
    """A Gradescope record whose name is nine aliases of nine aliases ... (9**7 leaves once expanded)."""
    lines = ["submission_2:", "  :lol:", "  - &a0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"  - &a{n} [" + ", ".join([f"*a{n - 1}"] * 9) + "]" for n in range(1, levels)]
    lines += ["  :submitters:", f"  - :name: *a{name}", "    :sid: '22'"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def unblocking(fifo: Path, after_s: float = 30.0) -> Iterator[None]:
    """If a reader ever blocks on ``fifo``, open its other end after ``after_s``: the test then fails, never hangs."""
    done = threading.Event()

    def writer() -> None:
        if not done.wait(after_s):
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def student(root: Path, name: str, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        write(root / name / rel, content)
    return root / name


def load(path: Path, assignment: Assignment) -> Submission:
    return load_submission(path, assignment)


# --- source files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (sum_of_ones, f"ex_tiny.py: too long to read (over {MAX_PARSE_TOKENS:,} tokens)"),
        (lambda: sum_of_ones(10_000), "ex_tiny.py: nested too deeply to read"),
        (unary_minuses, f"ex_tiny.py: too long to read (over {MAX_PARSE_TOKENS:,} tokens)"),
        (lambda: unary_minuses(10_000), "ex_tiny.py: nested too deeply to read"),
        (long_string, "ex_tiny.py: too long to read (over 1 MiB of source)"),
        (many_statements, f"ex_tiny.py: too long to read (over {MAX_PARSE_TOKENS:,} tokens)"),
    ],
    ids=["sum_300KB", "sum_20KB", "minus_200k", "minus_10k", "long_string", "many_statements"],
)
def test_source_beyond_the_parser_is_a_reason(make: object, reason: str, tmp_path: Path, tiny: Assignment) -> None:
    assert callable(make)
    sub = load(student(tmp_path, "s", {"ex_tiny.py": make()}), tiny)
    assert sub.problems == (reason,)
    assert sub.exercises == ("ex_tiny",)  # still handed to the worker, which has its own limits


def test_a_deep_list_is_left_to_the_worker_as_a_syntax_error(tmp_path: Path, tiny: Assignment) -> None:
    sub = load(student(tmp_path, "s", {"ex_tiny.py": deep_list()}), tiny)
    assert sub.problems == () and sub.exercises == ("ex_tiny",)


def test_a_pooled_file_beyond_the_parser_is_named(tmp_path: Path, tiny: Assignment) -> None:
    sub = load(student(tmp_path, "s", {"work.py": sum_of_ones(10_000)}), tiny)
    assert sub.problems == ("work.py: nested too deeply to read",)


def test_an_exercise_split_across_files_too_large_to_put_together_is_a_reason(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Put together for the workers, pooled files would be held twice: the submission's bound covers both."""
    pad = "# " + "x" * 150 + "\n"
    files = {
        "a.py": "def double(x):\n    return x + x\n" + pad,
        "b.py": "def shout(text):\n    return text.upper()\n" + pad,
    }
    read = sum(map(len, files.values()))
    monkeypatch.setattr(submission_module, "MAX_TOTAL_BYTES", 2 * read)  # the files fit; joined, they do not
    sub = load(student(tmp_path, "s", files), tiny)
    assert sub.exercises == ()
    assert sub.problems == (
        "ex_tiny: its functions are defined across 2 files too large to put together "
        "(over the 0 MiB a submission may be): not graded",
    )
    assert sum(map(len, sub.files.values())) <= 2 * read
    monkeypatch.setattr(submission_module, "MAX_TOTAL_BYTES", 2 * read + 2)  # the join's separator included
    sub = load(student(tmp_path, "t", files), tiny)
    assert sub.exercises == ("ex_tiny",) and sub.problems == ()


class _Recording:
    """A channel's sending end that records how many bytes each object it sends pickles to."""

    def __init__(self, channel: multiprocessing.connection.Connection) -> None:
        self.channel = channel
        self.pickled: list[int] = []

    def send(self, obj: object) -> None:
        self.pickled.append(len(pickle.dumps(obj)))
        self.channel.send(obj)

    def send_bytes(self, data: bytes) -> None:
        self.channel.send_bytes(data)


def test_a_submissions_files_cross_to_the_grading_process_unpickled(tiny: Assignment) -> None:
    """Pickled with the rest, a submission's files would be held twice on each side while they cross."""
    sub = build_submission({"ex_tiny.py": CORRECT.encode() + b"#" * 2_000_000, "data/x.py": b"y = 1\n"}, tiny, name="s")
    ours, theirs = multiprocessing.Pipe()
    received: list[Submission | None] = []
    reader = threading.Thread(target=lambda: received.extend([receive_submission(theirs), receive_submission(theirs)]))
    reader.start()
    recording = _Recording(ours)
    send_submission(recording, sub)  # type: ignore[arg-type]
    send_submission(recording, None)
    reader.join(timeout=60)
    assert received == [sub, None]
    assert max(recording.pickled) < 64 * 1024


def test_a_worker_receives_a_submissions_files_unpickled(
    tiny: Assignment, tiny_grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The grading process sends each file as it holds it: no request to a worker carries the files."""
    packed: list[int] = []
    pack = runner_module.pack_request

    def recorded(request: dict[str, object]) -> bytes:
        data = pack(request)
        packed.append(len(data))
        return data

    monkeypatch.setattr(runner_module, "pack_request", recorded)
    source = CORRECT + "# " + "x" * 900_000 + "\n"
    report = tiny_grader.grade(build_submission({"ex_tiny.py": source.encode()}, tiny, name="s"))
    assert report.score == report.max_score
    assert packed and max(packed) < 64 * 1024


def _assignments(count: int, function: str = "double") -> str:
    """A module of ``count`` assignments (three tokens each) and one of the tiny exercise's functions."""
    body = "".join(f"v{i} = {i}\n" for i in range(count))
    return body + {"double": "def double(x):\n    return x + x\n", "shout": "def shout(t):\n    return t\n"}[function]


def test_a_submissions_files_are_parsed_up_to_its_budget_and_graded_beyond(tmp_path: Path, tiny: Assignment) -> None:
    """Each file is under the bound of one; together they are over the submission's: the later one is not parsed."""
    files = {"a.py": _assignments(12_000), "b.py": _assignments(12_000, "shout")}  # 36,000 tokens each
    sub = load(student(tmp_path, "s", files), tiny)
    assert sub.exercises == ("ex_tiny",)  # b.py is searched by name, as an unparseable file is, and graded
    assert sub.problems == (
        f"b.py: not read to find where its functions are (over the {MAX_SUBMISSION_PARSE_TOKENS:,} tokens "
        "a submission's files are read up to); graded all the same",
    )
    assert set(sub.locations) == {("ex_tiny", "double")}


def test_a_notebook_past_the_submissions_budget_is_a_reason(tmp_path: Path, tiny: Assignment) -> None:
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": _assignments(12_000)}
    notebook = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})
    sub = load(student(tmp_path, "s", {"a.ipynb": notebook, "b.ipynb": notebook, "ex_tiny.py": CORRECT}), tiny)
    assert sub.problems == (
        f"b.ipynb: its code cells are over the {MAX_SUBMISSION_PARSE_TOKENS:,} tokens a submission's files "
        "are read up to: not read",
    )
    assert sub.exercises == ("ex_tiny",)


def _judged(source: bytes, **options: int | None) -> int | str:
    """What ``check_source`` says: the tokens, or the kind of refusal and its reason."""
    try:
        return bounds_module.check_source(source, **options)
    except Unreadable as exc:
        return f"{type(exc).__name__}: {exc.reason}"


@pytest.mark.parametrize("left", [None, -1, 0, 5, 9, 10, 11, 30])
@pytest.mark.parametrize("size", [0, 3, 9, 10, 11, 40])
def test_tokens_counted_before_are_judged_as_counting_them_again_would(
    left: int | None, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bounds_module, "MAX_PARSE_TOKENS", 10)  # both refusals within reach: the file's, the budget's
    source = ("x = (1)\n" * 20).encode()[: 2 * size]  # one token a byte... and some of two bytes
    tokens = len(bounds_module._TOKEN.findall(source))
    assert _judged(source, left=left, tokens=tokens) == _judged(source, left=left)


def test_a_submission_keeps_the_tokens_it_counted_for_each_exercise_module(tmp_path: Path, tiny: Assignment) -> None:
    def tokens_of(data: bytes) -> int:
        return len(bounds_module._TOKEN.findall(data))

    named = load(student(tmp_path, "named", {"ex_tiny.py": CORRECT}), tiny)
    split = load(student(tmp_path, "split", {"a.py": _assignments(3), "b.py": _assignments(2, "shout")}), tiny)
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": CORRECT}
    notebook = load(student(tmp_path, "nb", {"work.ipynb": NOTEBOOK_HEAD + json.dumps([cell]) + "}"}), tiny)
    broken = load(student(tmp_path, "broken", {"ex_tiny.py": "def double(x:\n"}), tiny)  # counted, then not parsed
    for sub in (named, split, notebook, broken):
        assert sub.tokens == {"ex_tiny": tokens_of(sub.files["ex_tiny.py"])}, sub.name
    # Over the budget: not counted in full, so not known.
    files = {"a.py": _assignments(12_000), "b.py": _assignments(12_000, "shout")}
    assert load(student(tmp_path, "big", files), tiny).tokens == {}


def test_only_the_contracts_functions_are_located(tmp_path: Path, tiny: Assignment) -> None:
    """A module's other names are not held, sent to the grading process and searched: 30,000 of them cost 130 MiB."""
    sub = load(student(tmp_path, "s", {"ex_tiny.py": _assignments(5_000) + CORRECT}), tiny)
    assert set(sub.definitions) == set(sub.locations) == {("ex_tiny", "double"), ("ex_tiny", "shout")}


# --- notebooks -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (deep_notebook, "nb.ipynb: nested too deeply to read"),
        (million_cells, "nb.ipynb: too large to read (over 200,000 lists and objects)"),
        (
            costly_notebook,
            "nb.ipynb: too large to read: its outputs and cells would take over 32 MiB of memory "
            "(clear its outputs, as Jupyter's Edit > Clear All Outputs does, and hand it in again)",
        ),
        (too_many_cells, f"nb.ipynb: holds {MAX_CELLS + 1:,} cells, over the limit of {MAX_CELLS:,}: not read"),
    ],
    ids=["deep", "million_cells", "costly", "too_many_cells"],
)
def test_hostile_notebooks_are_a_reason(make: object, reason: str, tmp_path: Path, tiny: Assignment) -> None:
    assert callable(make)
    sub = load(student(tmp_path, "s", {"nb.ipynb": make(), "ex_tiny.py": CORRECT}), tiny)
    assert sub.problems == (reason,)
    assert sub.exercises == ("ex_tiny",)


def test_a_notebook_whose_code_is_too_deep_is_a_reason(tmp_path: Path, tiny: Assignment) -> None:
    cell = {"cell_type": "code", "source": sum_of_ones(10_000), "metadata": {}, "outputs": [], "execution_count": None}
    notebook = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})
    sub = load(write(tmp_path / "nb.ipynb", notebook), tiny)
    assert sub.files == {"nb.ipynb": b""} or "nb.ipynb" not in sub.files
    assert sub.problems and sub.problems[0].startswith("nb.ipynb: cell 1 skipped")


def test_a_notebook_number_python_will_not_convert_is_a_reason(tmp_path: Path, tiny: Assignment) -> None:
    notebook = NOTEBOOK_HEAD + '[], "x": ' + "1" * 5_000 + "}"
    sub = load(student(tmp_path, "s", {"nb.ipynb": notebook, "ex_tiny.py": CORRECT}), tiny)
    assert len(sub.problems) == 1 and sub.problems[0].startswith("nb.ipynb: not a valid notebook: Exceeds the limit")


@pytest.mark.parametrize("shape", list(NOTEBOOK_SHAPES))
def test_reading_a_notebook_never_takes_more_memory_than_its_estimate(shape: str) -> None:
    """``json_cost`` is what keeps one student's notebook under its share of the reading process: an upper bound."""
    raw = NOTEBOOK_SHAPES[shape]()
    text = raw.decode()
    bare = bounds_module._JSON_STRING.sub('""', text)
    containers = bare.count("[") + bare.count("{")
    estimate = json_cost(len(text), containers + bare.count(","), containers)
    assert estimate <= MAX_JSON_COST_BYTES  # each shape is one a student may hand in
    tracemalloc.start()
    try:
        notebook_to_source(raw, name="nb.ipynb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= estimate


def test_a_notebooks_notes_are_counted_past_a_dozen(tmp_path: Path, tiny: Assignment) -> None:
    """A note per print cell, for 2,000 of them, would be 400 KB of report: the rest are counted in one."""
    cells = [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": f"print({n})"}
        for n in range(2_000)
    ]
    notebook = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    sub = load(student(tmp_path, "s", {"nb.ipynb": notebook, "ex_tiny.py": CORRECT}), tiny)
    assert len(sub.problems) == MAX_NOTES
    assert sub.problems[0].startswith("nb.ipynb: cell 1: top-level code at line(s) 1 was not run")
    assert sub.problems[-1] == (
        f"nb.ipynb: cells {MAX_NOTES} to 2000: {2_000 - MAX_NOTES + 1:,} more notes like these "
        "(cells skipped, or code in them not run when grading)"
    )


def test_a_submissions_notes_are_counted_past_forty(tmp_path: Path, tiny: Assignment) -> None:
    files = {f"n{k:03}.ipynb": "{" for k in range(100)}  # each is broken JSON: a note each
    sub = load(student(tmp_path, "s", {**files, "ex_tiny.py": CORRECT}), tiny)
    assert len(sub.problems) == MAX_PROBLEMS
    assert sub.problems[0].startswith("n000.ipynb: not a valid notebook")
    assert sub.problems[-1] == f"{100 - MAX_PROBLEMS + 1} more notes like these"
    assert sub.exercises == ("ex_tiny",)


def test_json_depth_is_checked_outside_strings() -> None:
    check_json('{"a": "' + "[" * 10_000 + '"}')  # brackets inside a string are text
    with pytest.raises(Unreadable, match="nested too deeply"):
        check_json("[" * 65 + "]" * 65)


# --- zips ----------------------------------------------------------------------------------------


def test_a_students_zip_is_read_in_place(tmp_path: Path, tiny: Assignment) -> None:
    """Only the entries kept are held: the archive itself (up to 64 MiB) is read from the disk, not into memory."""
    path = tmp_path / "s" / "work.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("ex_tiny.py", CORRECT)
        archive.writestr("data.bin", b"\0" * 20_000_000)
    tracemalloc.start()
    try:
        sub = load(path, tiny)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sub.exercises == ("ex_tiny",) and sub.files["ex_tiny.py"] == CORRECT.encode()
    assert peak < 2_000_000


def test_zip_entries_with_hostile_names_are_skipped_and_named(tmp_path: Path, tiny: Assignment) -> None:
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("a" * 10_000 + ".py", "x = 1\n")
        out.writestr("b" * 300 + "/work.py", "x = 1\n")
        out.writestr("ex_tiny.py", CORRECT)
    sub = load(archive, tiny)
    assert set(sub.files) == {"ex_tiny.py"}
    assert sub.problems == (
        f"{'a' * 77}...: skipped, its name is over 1024 characters",
        f"{'b' * 77}...: skipped, a name in its path is over 255 bytes",
    )


def test_a_zip_of_too_many_entries_is_refused_before_it_is_listed(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission_module, "MAX_ZIP_ENTRIES", 5)
    archive = tmp_path / "s.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for number in range(6):
            out.writestr(f"f{number}.py", "")
    sub = load(archive, tiny)
    assert sub.files == {} and sub.problems == ("s.zip: the archive holds 6 entries, over the limit of 5",)
    understated = bytearray(archive.read_bytes())
    end = understated.rindex(b"PK\x05\x06")
    understated[end + 8 : end + 12] = (1).to_bytes(2, "little") * 2  # "1 entry", said twice
    archive.write_bytes(bytes(understated))
    assert load(archive, tiny).problems == ("s.zip: the archive holds 6 entries, over the limit of 5",)


# --- special files, links, races ---------------------------------------------------------------


def test_special_files_in_a_students_folder_are_named_never_opened(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = student(tmp_path, "s", {"ex_tiny.py": CORRECT})
    os.mkfifo(folder / "pipe.py")
    monkeypatch.chdir(folder)  # a socket's path is limited to 108 bytes: bind it by a short relative name
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock.ipynb")
        (folder / "loop.py").symlink_to(folder / "loop2.py")
        (folder / "loop2.py").symlink_to(folder / "loop.py")
        (folder / "here").symlink_to(folder)  # a link back to the folder: never walked
        with unblocking(folder / "pipe.py"):
            sub = load(folder, tiny)
    assert set(sub.files) == {"ex_tiny.py"}
    assert sub.problems == (
        "loop.py: a symbolic link, not followed",
        "loop2.py: a symbolic link, not followed",
        "pipe.py: not a regular file, skipped",
        "sock.ipynb: not a regular file, skipped",
    )


@pytest.mark.parametrize("name", ["pipe.py", "pipe.zip", "pipe.ipynb"])
def test_a_fifo_given_as_a_submission_is_a_reason(name: str, tmp_path: Path, tiny: Assignment) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    with unblocking(fifo):
        sub = load(fifo, tiny)
    assert sub.files == {} and sub.problems == (f"{name}: not a regular file, skipped",)


def test_read_regular_refuses_links_and_oversize(tmp_path: Path) -> None:
    target = write(tmp_path / "t.py", "x")
    (tmp_path / "l.py").symlink_to(target)
    with pytest.raises(Unreadable, match="symbolic link"):
        read_regular(tmp_path / "l.py")
    with pytest.raises(Unreadable, match="over the 0 MiB limit"):
        read_regular(target, limit=0)
    assert read_regular(target) == b"x" and MAX_FILE_BYTES > 1
    assert read_regular(write(tmp_path / "receipt.txt", "abcdef"), limit=3, cut=True) == b"abc"


def test_a_file_that_disappears_after_listing_is_a_reason(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = student(tmp_path, "s", {"ex_tiny.py": CORRECT, "gone.py": "x = 1\n"})
    walk = submission_module._walk

    def walk_then_delete(root: Path, problems: list[str]) -> object:
        listing = walk(root, problems)
        (folder / "gone.py").unlink()
        return listing

    monkeypatch.setattr(submission_module, "_walk", walk_then_delete)
    sub = load(folder, tiny)
    assert set(sub.files) == {"ex_tiny.py"}
    assert sub.problems == ("gone.py: disappeared before it could be read",)


def test_folders_nested_too_deep_are_cut_with_a_reason(tmp_path: Path, tiny: Assignment) -> None:
    folder = student(tmp_path, "s", {"ex_tiny.py": CORRECT})
    deep = folder.joinpath(*["d"] * (MAX_DIR_DEPTH + 5))
    write(deep / "work.py", "x = 1\n")
    sub = load(folder, tiny)
    assert set(sub.files) == {"ex_tiny.py"}
    assert sub.problems == (
        f"{'/'.join(['d'] * MAX_DIR_DEPTH)}: nested more than {MAX_DIR_DEPTH} folders deep, skipped",
    )


# --- class exports -------------------------------------------------------------------------------


def test_a_fifo_at_the_top_of_a_class_folder_is_listed_not_opened(tmp_path: Path, tiny: Assignment) -> None:
    root = tmp_path / "class"
    student(root, "alice", {"ex_tiny.py": CORRECT})
    os.mkfifo(root / "pipe.py")
    os.mkfifo(root / "pipe.zip")
    with unblocking(root / "pipe.py"), unblocking(root / "pipe.zip"), open_roster(root) as roster:
        assert [s.id for s in roster.students] == ["alice"]
        assert {(u.path, u.reason) for u in roster.unattributed} == {
            ("pipe.py", "not a regular file, skipped"),
            ("pipe.zip", "not a regular file, skipped"),
        }


def test_class_zip_entries_that_cannot_be_placed_are_listed(tmp_path: Path) -> None:
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("alice/ex_tiny.py", CORRECT)
        out.writestr("linky", "a file where a folder is wanted")
        out.writestr("linky/x.py", "x = 1\n")
        out.writestr("c" * 300 + "/ex_tiny.py", CORRECT)
    target = tmp_path / "out"
    skipped = {item.path: item.reason for item in extract_class(archive, target)}
    assert skipped["linky/x.py"].startswith("skipped: cannot be extracted")
    assert skipped[f"{'c' * 77}..."] == "skipped: a name in its path is over 255 bytes"
    assert (target / "alice" / "ex_tiny.py").read_text() == CORRECT


def test_a_class_zip_of_too_many_entries_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_module, "MAX_CLASS_ZIP_ENTRIES", 3)
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for number in range(4):
            out.writestr(f"s{number}/ex_tiny.py", CORRECT)
    with pytest.raises(UsageError, match="holds 4 entries, over the limit of 3"), open_roster(archive):
        pass


def gradescope(root: Path, records: str) -> Path:
    write(root / "submission_1" / "ex_tiny.py", CORRECT)
    write(root / "submission_2" / "ex_tiny.py", CORRECT)
    honest = "submission_1:\n  :submitters:\n  - :name: Ana\n    :sid: '11'\n"
    write(root / "submission_metadata.yml", honest + records)
    return root


@pytest.mark.parametrize(
    ("name", "note"),
    [
        (6, "the export's name is not a plain value: ignored"),  # a list of aliases, each cut short
        (3, "the export's name repeats over 1,000 values: ignored"),  # one alias of 7,381 nodes
    ],
)
def test_a_gradescope_alias_bomb_costs_only_its_field(name: int, note: str, tmp_path: Path) -> None:
    with open_roster(gradescope(tmp_path / "export", alias_bomb(name=name))) as roster:
        students = {s.id: s for s in roster.students}
    assert students["11"].name == "Ana" and students["11"].notes == ()
    assert students["22"].name == "22"
    assert students["22"].notes == (note,)


def test_gradescope_texts_are_cut_and_structures_ignored(tmp_path: Path) -> None:
    record = f"submission_2:\n  :submitters:\n  - :name: {'N' * 10_000}\n    :sid: [1, 2]\n    :email: e@x.edu\n"
    with open_roster(gradescope(tmp_path / "export", record)) as roster:
        bob = next(s for s in roster.students if s.id != "11")
    assert bob.id == "e@x.edu" and bob.name == "N" * 200
    assert bob.notes == (
        "the export's student id is not a plain value: ignored",
        "the export's name is over 200 characters: cut",
    )


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ("big: &b [" + ", ".join(["0"] * 999) + "]\nx: [" + ", ".join(["*b"] * 1100) + "]\n", "expand to over"),
        ("deep: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested too deeply"),
    ],
    ids=["expansion", "depth"],
)
def test_gradescope_metadata_beyond_every_export_is_refused(records: str, reason: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=reason), open_roster(gradescope(tmp_path / "export", records)):
        pass


def test_a_blackboard_receipt_name_is_cut(tmp_path: Path) -> None:
    root = tmp_path / "export"
    prefix = "Week3_jdoe_attempt_2024-03-01-23-59-00"
    write(root / f"{prefix}_ex_tiny.py", CORRECT)
    files = f"Files:\n\tOriginal filename: ex_tiny.py\n\tFilename: {prefix}_ex_tiny.py\n"
    receipt = f"Name: {'J' * 100_000} (jdoe)\n{files}"
    write(root / f"{prefix}.txt", receipt)
    with open_roster(root, layout="blackboard") as roster:
        (jdoe,) = roster.students
    assert jdoe.id == "jdoe" and jdoe.name == "J" * 200
    assert jdoe.notes == ("the export's name is over 200 characters: cut",)


def test_whatever_a_reader_raises_becomes_that_students_reason(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "class"
    for name in ("alice", "faulty"):
        student(root, name, {"ex_tiny.py": CORRECT})
    read_files = roster_module.read_files

    def failing(path: Path) -> tuple[dict[str, bytes], list[str]]:
        if path.name == "faulty":
            raise RecursionError("a reader no one foresaw")
        return read_files(path)

    monkeypatch.setattr(roster_module, "read_files", failing)
    with open_roster(root) as roster:
        subs = {s.id: read_submission(s, tiny) for s in roster.students}
    assert subs["alice"].exercises == ("ex_tiny",) and subs["alice"].problems == ()
    assert subs["faulty"].files == {}
    assert subs["faulty"].problems == ("the submission is nested too deeply or too large to read: not graded",)


def test_grader_check_reads_a_submission_totally(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*args: object, **options: object) -> Submission:
        raise ValueError("a parser no one foresaw")

    monkeypatch.setattr(submission_module, "build_submission", failing)
    sub = load(student(tmp_path, "s", {"ex_tiny.py": CORRECT}), tiny)
    assert sub.files == {} and sub.problems == ("the submission could not be read (ValueError): not graded",)


# --- whole batches: the class is graded, the honest student keeps full marks ----------------------


def _results(out: Path) -> dict[str, dict[str, object]]:
    return {s["student"]: s for s in json.loads((out / "results.json").read_text())["students"]}


def _problems(out: Path, name: str) -> list[str]:
    return list(json.loads((out / name / "result.json").read_text())["problems"])


@pytest.mark.slow
def test_a_class_of_hostile_students_is_graded_and_exits_0(
    tmp_path: Path, tiny: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "class"
    student(root, "alice", {"ex_tiny.py": CORRECT})
    student(root, "ones", {"ex_tiny.py": sum_of_ones()})
    student(root, "ones20k", {"ex_tiny.py": sum_of_ones(10_000)})
    student(root, "minus", {"ex_tiny.py": unary_minuses(10_000)})
    student(root, "lists", {"ex_tiny.py": deep_list()})
    student(root, "deepnb", {"nb.ipynb": deep_notebook(), "ex_tiny.py": CORRECT})
    student(root, "cells", {"nb.ipynb": million_cells()})
    piped = student(root, "piped", {"ex_tiny.py": CORRECT})
    os.mkfifo(piped / "pipe.py")
    os.mkfifo(root / "pipe.py")
    student(root, "faulty", {"ex_tiny.py": CORRECT})
    build = submission_module.build_submission

    def failing(raw: dict[str, bytes], assignment: Assignment, **options: object) -> Submission:
        if options["name"] == "faulty":
            raise MemoryError
        return build(raw, assignment, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(submission_module, "build_submission", failing)
    out = tmp_path / "out"
    command = ["grade", str(root), "--assignment", str(tiny.root), "--out", str(out), "--jobs", "2"]
    with unblocking(root / "pipe.py"), unblocking(piped / "pipe.py"):
        result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    results = _results(out)
    assert results["alice"]["score"] == 5.0 and _problems(out, "alice") == []
    assert results["piped"]["score"] == 5.0
    assert f"ex_tiny.py: too long to read (over {MAX_PARSE_TOKENS:,} tokens)" in _problems(out, "ones")
    assert "ex_tiny.py: nested too deeply to read" in _problems(out, "ones20k")
    assert "ex_tiny.py: nested too deeply to read" in _problems(out, "minus")
    assert results["lists"]["score"] == 0.0
    assert _problems(out, "deepnb") == ["nb.ipynb: nested too deeply to read"]
    assert results["deepnb"]["score"] == 5.0
    assert _problems(out, "cells") == ["nb.ipynb: too large to read (over 200,000 lists and objects)"]
    assert _problems(out, "piped") == ["pipe.py: not a regular file, skipped"]
    assert _problems(out, "faulty") == ["the submission is nested too deeply or too large to read: not graded"]
    assert results["faulty"]["score"] == 0.0
    unattributed = json.loads((out / "results.json").read_text())["unattributed"]
    assert {"path": "pipe.py", "reason": "not a regular file, skipped"} in unattributed


@pytest.mark.slow
def test_hostile_exports_are_graded_beside_an_honest_student(tmp_path: Path, tiny: Assignment) -> None:
    from grader.batch import grade_class

    export = gradescope(tmp_path / "gradescope", alias_bomb())
    report = grade_class(export, tmp_path / "out-gs", tiny, jobs=1)
    scores = {r.student: (r.score, r.name, r.problems) for r in report.reports}
    assert scores["11"] == (5.0, "Ana", ())
    assert scores["22"] == (5.0, "", ("the export's name is not a plain value: ignored",))

    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("class/alice/ex_tiny.py", CORRECT)
        out.writestr("class/linky", "x")
        out.writestr("class/linky/x.py", "x = 1\n")
        out.writestr("class/" + "c" * 300 + "/ex_tiny.py", CORRECT)
        out.writestr("class/" + "z" * 10_000 + ".py", CORRECT)
    report = grade_class(archive, tmp_path / "out-zip", tiny, jobs=1)
    assert {r.student: r.score for r in report.reports}["alice"] == 5.0
    reasons = [item.reason for item in report.unattributed]
    assert "skipped: a name in its path is over 255 bytes" in reasons
    assert "skipped: its name is over 1024 characters" in reasons
    assert any(reason.startswith("skipped: cannot be extracted") for reason in reasons)


def test_tokens_are_counted_as_the_token_pattern_matches_them() -> None:
    # Counted by translating bytes, not by matching the pattern: the same count, for any bytes.
    import random
    import re

    assert set(bounds_module._WORD) == {b for b in range(256) if re.fullmatch(rb"\w", bytes([b]))}
    assert set(bounds_module._SPACE) == {b for b in range(256) if re.fullmatch(rb"\s", bytes([b]))}
    rng = random.Random(7)

    def noise() -> bytes:  # any byte, and many of the spaces, words and brackets that separate tokens
        return bytes(rng.choice((rng.randrange(256), 32, 10, 119, 95, 40)) for _ in range(rng.randrange(80)))

    samples = [b"", b"w", b" w", b"x = (1)\n", bytes(range(256)), "é = 1  # →\n".encode(), Path(__file__).read_bytes()]
    samples += [noise() for _ in range(500)]
    for source in samples:
        assert bounds_module.count_tokens(source) == len(bounds_module._TOKEN.findall(source)), source


def test_source_is_counted_without_the_token_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"_TOKEN.{name} used")

    monkeypatch.setattr(bounds_module, "_TOKEN", Refused())
    assert bounds_module.check_source(b"def f(x):\n    return x + 1\n") == 10
