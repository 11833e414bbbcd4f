"""Loading submissions: a ``.py`` file, a folder, a notebook or a zip becomes a ``Submission``.

Nothing here runs student code; every test builds its submission under
``tmp_path`` and reads it against the bundled assignment.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import submission as submission_module
from grader.assignment import Assignment
from grader.errors import SubmissionError
from grader.models import Location
from grader.sandbox.cells import CellStop
from grader.submission import Submission, build_submission, load_submission

EX05 = "ex05_activations"
EX01 = "ex01_tensors"

SIGMOID = "import torch\n\n\ndef apply_sigmoid(x):\n    return torch.sigmoid(x)\n"
SOFTMAX = "import torch\n\n\ndef apply_softmax(x, dim):\n    return torch.softmax(x, dim=dim)\n"
TENSORS = "import torch\n\n\ndef make_tensor(values):\n    return torch.tensor(values)\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
    return root


def notebook(*cells: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(new_notebook(cells=list(cells))).encode()


def zipped(path: Path, entries: dict[str, str | bytes]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    path.write_bytes(buffer.getvalue())
    return path


def load(path: Path, bundled: Assignment) -> Submission:
    return load_submission(path, bundled)


# --------------------------------------------------------------------------- single files


def test_a_py_file_named_after_its_exercise(tmp_path: Path, bundled: Assignment) -> None:
    path = write(tmp_path, {f"{EX05}.py": SIGMOID})
    sub = load(path / f"{EX05}.py", bundled)
    assert sub.name == EX05
    assert sub.exercises == (EX05,)
    assert sub.files[f"{EX05}.py"] == SIGMOID.encode()
    assert sub.locations[(EX05, "apply_sigmoid")] == Location(file=f"{EX05}.py", line=4)
    assert sub.problems == ()


def test_a_py_file_with_another_name_is_pooled(tmp_path: Path, bundled: Assignment) -> None:
    path = write(tmp_path, {"my_work.py": SIGMOID + "\n\n" + TENSORS})
    sub = load(path / "my_work.py", bundled)
    assert sub.name == "my_work"
    assert sub.exercises == (EX01, EX05)  # in assignment order
    assert sub.files[f"{EX05}.py"] == sub.files[f"{EX01}.py"] == sub.files["my_work.py"]
    assert sub.locations[(EX05, "apply_sigmoid")] == Location(file="my_work.py", line=4)
    assert sub.locations[(EX01, "make_tensor")].line == 11


def test_a_file_defining_nothing_of_the_assignment_provides_nothing(tmp_path: Path, bundled: Assignment) -> None:
    path = write(tmp_path, {"notes.py": "def helper():\n    return 1\n"})
    sub = load(path / "notes.py", bundled)
    assert sub.exercises == ()
    assert set(sub.files) == {"notes.py"}


def test_definitions_inside_if_and_try_and_by_assignment(tmp_path: Path, bundled: Assignment) -> None:
    source = (
        "import torch\n"
        "apply_sigmoid = torch.sigmoid\n"
        "try:\n"
        "    def apply_softmax(x, dim):\n"
        "        return x.softmax(dim)\n"
        "except Exception:\n"
        "    pass\n"
        "if True:\n"
        "    def binary_classifier(n):\n"
        "        return None\n"
    )
    sub = load(write(tmp_path, {"work.py": source}) / "work.py", bundled)
    assert sub.exercises == (EX05,)
    lines = {f: sub.locations[(EX05, f)].line for f in ("apply_sigmoid", "apply_softmax", "binary_classifier")}
    assert lines == {"apply_sigmoid": 2, "apply_softmax": 4, "binary_classifier": 9}


def test_a_redefined_function_is_located_at_its_last_definition(tmp_path: Path, bundled: Assignment) -> None:
    source = SIGMOID + "\n\ndef apply_sigmoid(x):\n    return 1 / (1 + (-x).exp())\n"
    sub = load(write(tmp_path, {f"{EX05}.py": source}) / f"{EX05}.py", bundled)
    assert sub.locations[(EX05, "apply_sigmoid")].line == 8


def test_a_cell_stopped_before_a_redefinition_leaves_the_earlier_one_in_force(bundled: Assignment) -> None:
    cells = [
        "import torch\ndef apply_sigmoid(x):\n    return torch.sigmoid(x)",
        "import seaborn\ndef apply_sigmoid(x):\n    return x",
        "apply_softmax = torch.softmax",
    ]
    nb = new_notebook(cells=[new_markdown_cell("# work"), *(new_code_cell(c) for c in cells)])
    sub = build_submission({"w.ipynb": nbformat.writes(nb).encode()}, bundled, name="s")
    key = ("ex05_activations", "apply_sigmoid")
    first, second = Location("w.ipynb", 2, cell=2), Location("w.ipynb", 2, cell=3)
    assert sub.definitions[key] == (first, second) and sub.locations[key] == second
    stop = CellStop("w.ipynb", 3, 1, "ModuleNotFoundError: No module named 'seaborn'")
    assert sub.location_after(key, (stop,)) == first
    assert sub.location_after(key, (CellStop("w.ipynb", 3, 3, "NameError"),)) == second  # stopped after it
    assert sub.location_after(key, (CellStop("other.ipynb", 3, 1, "NameError"),)) == second
    assert sub.cut_off(stop) == [("apply_sigmoid", second)]
    softmax = ("ex05_activations", "apply_softmax")
    assert sub.location_after(softmax, (CellStop("w.ipynb", 4, 1, "NameError"),)) is None


def test_a_syntax_error_file_is_still_claimed(tmp_path: Path, bundled: Assignment) -> None:
    broken = "def apply_sigmoid(x)\n    return x\n"
    named = load(write(tmp_path / "a", {f"{EX05}.py": broken}) / f"{EX05}.py", bundled)
    assert named.exercises == (EX05,)
    assert named.files[f"{EX05}.py"] == broken.encode()
    assert named.locations == {}
    pooled = load(write(tmp_path / "b", {"work.py": broken}) / "work.py", bundled)
    assert pooled.exercises == (EX05,)
    assert pooled.files[f"{EX05}.py"] == broken.encode()


def test_a_non_utf8_file_does_not_raise(tmp_path: Path, bundled: Assignment) -> None:
    data = b"def apply_sigmoid(x):\n    return x  # \xff\xfe\n"
    sub = load(write(tmp_path, {"work.py": data}) / "work.py", bundled)
    assert sub.exercises == (EX05,)


def test_missing_path_and_wrong_suffix_are_errors(tmp_path: Path, bundled: Assignment) -> None:
    with pytest.raises(SubmissionError, match="does not exist"):
        load(tmp_path / "nope.py", bundled)
    for name in ("work.txt", "work.tar.gz", "work"):
        path = write(tmp_path, {name: SIGMOID}) / name
        with pytest.raises(SubmissionError, match="not a submission"):
            load(path, bundled)
    assert SubmissionError("x").exit_code == 2


def test_name_can_be_given(tmp_path: Path, bundled: Assignment) -> None:
    path = write(tmp_path, {"x.py": SIGMOID}) / "x.py"
    assert load_submission(path, bundled, name="alice").name == "alice"


# --------------------------------------------------------------------------- folders


def test_folder_exercise_named_files_win_over_pooled_sources(tmp_path: Path, bundled: Assignment) -> None:
    other_sigmoid = SIGMOID.replace("torch.sigmoid(x)", "x.sigmoid()")
    root = write(tmp_path / "alice", {f"{EX05}.py": SIGMOID, "zz_scratch.py": other_sigmoid})
    sub = load(root, bundled)
    assert sub.name == "alice"
    assert sub.files[f"{EX05}.py"] == SIGMOID.encode()
    assert sub.locations[(EX05, "apply_sigmoid")].file == f"{EX05}.py"


def test_folder_top_level_named_file_wins_over_a_nested_one(tmp_path: Path, bundled: Assignment) -> None:
    nested = SIGMOID.replace("torch.sigmoid(x)", "x.sigmoid()")
    root = write(tmp_path / "s", {f"{EX05}.py": SIGMOID, f"old/{EX05}.py": nested})
    assert load(root, bundled).files[f"{EX05}.py"] == SIGMOID.encode()
    only_nested = write(tmp_path / "t", {f"work/{EX05}.py": nested})
    sub = load(only_nested, bundled)
    assert sub.files[f"{EX05}.py"] == nested.encode()
    assert sub.locations[(EX05, "apply_sigmoid")].file == f"work/{EX05}.py"


def test_folder_files_in_subfolders_are_found(tmp_path: Path, bundled: Assignment) -> None:
    root = write(tmp_path / "s", {"src/deep/er/work.py": SIGMOID})
    sub = load(root, bundled)
    assert sub.exercises == (EX05,)
    assert "src/deep/er/work.py" in sub.files
    assert sub.locations[(EX05, "apply_sigmoid")] == Location(file="src/deep/er/work.py", line=4)


@pytest.mark.parametrize(
    "folder", ["__pycache__", ".ipynb_checkpoints", ".hidden", "__MACOSX", ".git", ".venv", "venv", "node_modules"]
)
def test_folder_skips_tool_and_hidden_folders(tmp_path: Path, bundled: Assignment, folder: str) -> None:
    root = write(tmp_path / "s", {f"{folder}/{EX05}.py": SIGMOID, f"a/{folder}/work.py": SIGMOID, "readme.md": "hi"})
    sub = load(root, bundled)
    assert sub.exercises == ()
    assert sub.files == {}


def test_folder_skips_hidden_files_and_other_suffixes(tmp_path: Path, bundled: Assignment) -> None:
    root = write(tmp_path / "s", {f".{EX05}.py": SIGMOID, "work.pyc": b"\0", "data.txt": SIGMOID})
    assert load(root, bundled).files == {}


def test_folder_ignores_symlinks(tmp_path: Path, bundled: Assignment) -> None:
    outside = write(tmp_path / "outside", {"secret.py": SIGMOID, f"{EX05}.py": SIGMOID})
    root = tmp_path / "s"
    root.mkdir()
    (root / f"{EX05}.py").symlink_to(outside / f"{EX05}.py")
    (root / "linked_dir").symlink_to(outside, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    sub = load(root, bundled)
    assert sub.files == {}
    assert sub.exercises == ()


def test_folder_with_notebook(tmp_path: Path, bundled: Assignment) -> None:
    nb = notebook(
        new_markdown_cell("# My work"),
        new_code_cell("import torch"),
        new_code_cell("x = 1\n\ndef apply_softmax(x, dim):\n    return torch.softmax(x, dim=dim)"),
    )
    root = write(tmp_path / "s", {"work.ipynb": nb})
    sub = load(root, bundled)
    assert sub.exercises == (EX05,)
    assert b"def apply_softmax" in sub.files[f"{EX05}.py"]
    # cells are numbered as Jupyter shows them, markdown included
    assert sub.locations[(EX05, "apply_softmax")] == Location(file="work.ipynb", line=3, cell=3)
    assert sub.locations[(EX05, "apply_softmax")].describe() == "work.ipynb, cell 3, line 3"


def test_a_notebook_file(tmp_path: Path, bundled: Assignment) -> None:
    nb = notebook(new_code_cell("import torch\ndef apply_sigmoid(x):\n    return torch.sigmoid(x)"))
    path = write(tmp_path, {"alice.ipynb": nb}) / "alice.ipynb"
    sub = load(path, bundled)
    assert sub.name == "alice"
    assert sub.exercises == (EX05,)
    assert sub.locations[(EX05, "apply_sigmoid")] == Location(file="alice.ipynb", line=2, cell=1)


def test_an_unreadable_notebook_is_a_problem(tmp_path: Path, bundled: Assignment) -> None:
    root = write(tmp_path / "s", {"broken.ipynb": b"{not json", f"{EX05}.py": SIGMOID})
    sub = load(root, bundled)
    assert sub.exercises == (EX05,)
    assert len(sub.problems) == 1 and sub.problems[0].startswith("broken.ipynb: ")


def test_pooled_sources_last_definition_wins(tmp_path: Path, bundled: Assignment) -> None:
    first = SIGMOID
    second = SIGMOID.replace("torch.sigmoid(x)", "x.sigmoid()")
    root = write(tmp_path / "s", {"a_work.py": first, "b_work.py": second})
    sub = load(root, bundled)
    module = sub.files[f"{EX05}.py"].decode()
    assert module.index(first) < module.index(second)  # run in order: the later definition wins
    assert sub.locations[(EX05, "apply_sigmoid")].file == "b_work.py"


def test_pooled_sources_deeper_files_come_later(tmp_path: Path, bundled: Assignment) -> None:
    """Pooled sources are ordered by depth, then path: a nested file beats a top-level one."""
    nested = SIGMOID.replace("torch.sigmoid(x)", "x.sigmoid()")
    root = write(tmp_path / "s", {"z_work.py": SIGMOID, "a/work.py": nested})
    assert load(root, bundled).locations[(EX05, "apply_sigmoid")].file == "a/work.py"


def test_pooled_sources_split_exercise_is_merged(tmp_path: Path, bundled: Assignment) -> None:
    """An exercise split across files is merged: every function is found where it is defined."""
    root = write(tmp_path / "s", {"a_work.py": SIGMOID, "b_work.py": SOFTMAX})
    sub = load(root, bundled)
    assert SIGMOID in sub.files[f"{EX05}.py"].decode() and SOFTMAX in sub.files[f"{EX05}.py"].decode()
    assert sub.locations[(EX05, "apply_softmax")].file == "b_work.py"
    assert sub.locations[(EX05, "apply_sigmoid")].file == "a_work.py"


def test_conftest_is_never_pooled(tmp_path: Path, bundled: Assignment) -> None:
    root = write(tmp_path / "s", {"conftest.py": SIGMOID})
    sub = load(root, bundled)
    assert sub.exercises == ()


# --------------------------------------------------------------------------- zips


def test_a_zip_in_a_students_folder_is_read_with_the_folder(tmp_path: Path, bundled: Assignment) -> None:
    root = write(tmp_path / "s", {"ex01_tensors.py": "def make_tensor(values):\n    return values\n"})
    zipped(root / "work.zip", {"ex05_activations.py": "def apply_sigmoid(x):\n    return x\n"})
    sub = load(root, bundled)
    assert sub.exercises == ("ex01_tensors", "ex05_activations")
    assert sub.problems == ()


def test_zip_with_one_top_folder_is_that_folder(tmp_path: Path, bundled: Assignment) -> None:
    path = zipped(tmp_path / "bob.zip", {f"bob/{EX05}.py": SIGMOID, "bob/lib/util.py": "X = 1\n", "bob/": ""})
    sub = load(path, bundled)
    assert sub.name == "bob"
    assert set(sub.files) == {f"{EX05}.py", "lib/util.py"}
    assert sub.locations[(EX05, "apply_sigmoid")].file == f"{EX05}.py"


def test_zip_with_files_at_the_top_keeps_paths(tmp_path: Path, bundled: Assignment) -> None:
    path = zipped(tmp_path / "s.zip", {f"{EX05}.py": SIGMOID, "lib/util.py": "X = 1\n"})
    assert set(load(path, bundled).files) == {f"{EX05}.py", "lib/util.py"}


def test_zip_slip_and_skipped_names_are_ignored(tmp_path: Path, bundled: Assignment) -> None:
    entries = {
        "../evil.py": SIGMOID,
        "a/../../evil2.py": SIGMOID,
        "/abs/evil3.py": SIGMOID,
        f"__MACOSX/._{EX05}.py": b"\0\0",
        f".hidden/{EX05}.py": SIGMOID,
        f"__pycache__/{EX05}.py": SIGMOID,
        "notes.txt": "hi",
        "ok/work.py": TENSORS,
    }
    sub = load(zipped(tmp_path / "s.zip", entries), bundled)
    assert set(sub.files) == {"work.py", f"{EX01}.py"}
    assert sub.exercises == (EX01,)
    assert sub.problems == ()


def test_zip_oversize_entries_are_skipped_with_a_problem(
    tmp_path: Path, bundled: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission_module, "MAX_FILE_BYTES", 100)
    path = zipped(tmp_path / "s.zip", {"big.py": "x = 1\n" * 100, f"{EX05}.py": SIGMOID})
    sub = load(path, bundled)
    assert set(sub.files) == {f"{EX05}.py"}
    assert sub.problems == ("big.py: skipped, the archive is over the size limits",)


def test_zip_total_size_and_file_count_limits(
    tmp_path: Path, bundled: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission_module, "MAX_TOTAL_BYTES", 150)
    path = zipped(tmp_path / "s.zip", {"a.py": "#" * 100, "b.py": "#" * 100, "c.py": "#"})
    sub = load(path, bundled)
    assert set(sub.files) == {"a.py", "c.py"}
    assert sub.problems == ("b.py: skipped, the archive is over the size limits",)
    monkeypatch.setattr(submission_module, "MAX_FILES", 2)
    path = zipped(tmp_path / "t.zip", {"a.py": "", "b.py": "", "c.py": ""})
    sub = load(path, bundled)
    assert len(sub.files) == 2 and len(sub.problems) == 1


def test_a_broken_zip_is_a_problem_not_an_exception(tmp_path: Path, bundled: Assignment) -> None:
    path = tmp_path / "s.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    sub = load(path, bundled)
    assert sub.files == {} and sub.exercises == ()
    assert len(sub.problems) == 1 and "not a readable zip archive" in sub.problems[0]


def test_zip_entry_with_a_bad_crc_is_a_problem(tmp_path: Path, bundled: Assignment) -> None:
    path = zipped(tmp_path / "s.zip", {"work.py": SIGMOID, f"{EX01}.py": TENSORS})
    data = bytearray(path.read_bytes())
    at = data.index(b"torch.sigmoid")
    data[at] ^= 0x01  # stored uncompressed: corrupt the content, not the headers
    path.write_bytes(bytes(data))
    sub = load(path, bundled)
    assert set(sub.files) == {f"{EX01}.py"}
    assert len(sub.problems) == 1 and sub.problems[0].startswith("work.py: cannot be extracted")


# --------------------------------------------------------------------------- limits


def test_folder_oversize_file_is_a_problem(
    tmp_path: Path, bundled: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission_module, "MAX_FILE_BYTES", 100)
    root = write(tmp_path / "s", {"big.py": "x = 1\n" * 100, f"{EX05}.py": SIGMOID})
    sub = load(root, bundled)
    assert set(sub.files) == {f"{EX05}.py"}
    assert len(sub.problems) == 1 and sub.problems[0].startswith("big.py: skipped")
    single = load(root / "big.py", bundled)
    assert single.files == {} and len(single.problems) == 1


def test_folder_total_size_limit_is_a_problem(
    tmp_path: Path, bundled: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission_module, "MAX_TOTAL_BYTES", 150)
    root = write(tmp_path / "s", {"a.py": "#" * 100, "b.py": "#" * 100, "c.py": "#"})
    sub = load(root, bundled)
    assert set(sub.files) == {"a.py"}
    assert sub.problems == ("the submission is over 0 MiB: b.py and later files were skipped",)


def test_folder_file_count_limit_is_a_problem(
    tmp_path: Path, bundled: Assignment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission_module, "MAX_FILES", 3)
    root = write(tmp_path / "s", {f"f{i}.py": "" for i in range(6)})
    sub = load(root, bundled)
    assert len(sub.files) == 3
    assert sub.problems == ("more than 3 source files: the rest were skipped",)


def test_an_unreadable_file_is_a_problem(tmp_path: Path, bundled: Assignment) -> None:
    root = write(tmp_path / "s", {f"{EX05}.py": SIGMOID})
    (root / "work.py").mkdir()  # a folder named like a source file is not read
    assert load(root, bundled).problems == ()


# --------------------------------------------------------------------------- digest


def test_digest_is_stable_and_tracks_content_and_names(tmp_path: Path, bundled: Assignment) -> None:
    root = write(tmp_path / "s", {f"{EX05}.py": SIGMOID, "lib/util.py": "X = 1\n"})
    first = load(root, bundled).digest
    assert first == load(root, bundled).digest
    assert first == load_submission(root, bundled, name="other").digest
    assert len(first) == 64
    copy = write(tmp_path / "copy", {f"{EX05}.py": SIGMOID, "lib/util.py": "X = 1\n"})
    assert load(copy, bundled).digest == first
    (root / "lib/util.py").write_text("X = 2\n")
    changed = load(root, bundled).digest
    assert changed != first
    (root / "lib/util.py").rename(root / "lib/util2.py")
    assert load(root, bundled).digest not in (first, changed)


def test_digest_does_not_confuse_name_and_content_boundaries(bundled: Assignment) -> None:
    a = build_submission({"a.py": b"b.py\0x"}, bundled, name="a")
    b = build_submission({"a.py": b"", "b.py": b"x"}, bundled, name="b")
    assert a.digest != b.digest


def test_build_submission_keeps_given_problems(bundled: Assignment) -> None:
    sub = build_submission({f"{EX05}.py": SIGMOID.encode()}, bundled, name="x", problems=["p"])
    assert sub.problems == ("p",)
    assert sub.exercises == (EX05,)
