"""Class exports as each LMS writes them: built under tmp_path from the documented naming rules, read as rosters.

Every layout gets the same five students (one correct, one whose latest
attempt is wrong, one half right, one in a notebook, one with an accented,
hyphenated name who uploaded a zip with a subfolder), plus the junk real
downloads carry (``__MACOSX``, ``.DS_Store``) and a file that belongs to no
one. The fast tests check who the students are; the slow ones grade every
export and compare each student's score with the same files graded as a
clean folder-per-student class.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

from grader.assignment import Assignment
from grader.batch import grade_class
from grader.cli import cli
from grader.errors import UsageError
from grader.grading import Grader
from grader.roster import LAYOUTS, Roster, detect_layout, open_roster, read_submission
from grader.roster.canvas import original_name
from grader.roster.tree import decoded_name

CORRECT = "def double(x):\n    return x + x\n\n\ndef shout(text):\n    return text.upper() + '!'\n"
WRONG = "def double(x):\n    return x\n\n\ndef shout(text):\n    return text\n"
HALF = "def double(x):\n    return 2 * x\n\n\ndef shout(text):\n    return text\n"
NOTEBOOK = nbformat.writes(new_notebook(cells=[new_code_cell(CORRECT), new_code_cell("print(double(2))")]))


def _zip(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


@dataclass(frozen=True)
class Person:
    """One student, with the id each LMS knows them by, and their attempts (oldest first)."""

    key: str  # the clean folder's name
    first: str
    last: str
    ids: dict[str, str]
    attempts: tuple[dict[str, str | bytes], ...]
    late: bool = False
    #: What the clean folder-per-student class holds for them (entry name -> content or files).
    clean: dict[str, str | bytes] = field(default_factory=dict)

    @property
    def full(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def latest(self) -> dict[str, str | bytes]:
        return self.attempts[-1]


EVE_ZIP = _zip({"work/src/ex_tiny.py": HALF, "work/README.md": "my notes"})
PEOPLE = (
    Person("alice", "Alice", "Smith", {"canvas": "1001", "moodle": "2001", "bb": "asmith", "d2l": "3001",
           "gs": "s001", "gh": "alice-s"}, ({"ex_tiny.py": CORRECT},)),
    Person("bob", "Bob", "Jones", {"canvas": "1002", "moodle": "2002", "bb": "b_jones", "d2l": "3002",
           "gs": "s002", "gh": "bobj"}, ({"ex_tiny.py": CORRECT}, {"ex_tiny.py": WRONG}), late=True),
    Person("carol", "Carol Ann", "Lee", {"canvas": "1003", "moodle": "2003", "bb": "clee", "d2l": "3003",
           "gs": "s003", "gh": "carol-lee-99"}, ({"ex_tiny.py": HALF, "notes.pdf": b"%PDF-1.4"},)),
    Person("dana", "Dana", "O'Neil", {"canvas": "1004", "moodle": "2004", "bb": "doneil", "d2l": "3004",
           "gs": "s004", "gh": "dana"}, ({"work.ipynb": NOTEBOOK},)),
    Person("eve", "Éve", "Müller-Østergård", {"canvas": "1005", "moodle": "2005", "bb": "emuller", "d2l": "3005",
           "gs": "", "gh": "eve_m"}, ({"work.zip": EVE_ZIP},)),
)  # fmt: skip
ASSIGNMENT = "Week 3_tensors lab"  # underscores, as Blackboard's names may have


def clean_class(root: Path) -> Path:
    """The same latest files as a clean folder per student (a student who uploaded a zip is that zip)."""
    for person in PEOPLE:
        files = person.latest
        if list(files) == ["work.zip"]:
            root.mkdir(parents=True, exist_ok=True)
            (root / f"{person.key}.zip").write_bytes(EVE_ZIP)
            continue
        for name, content in files.items():
            write(root / person.key / name, content)
    return root


def write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


def add_junk(root: Path) -> None:
    write(root / ".DS_Store", b"\0\0\0\1Bud1")
    write(root / "__MACOSX" / "._ex_tiny.py", b"\0\5\26\7")


def canvas_sortable(person: Person) -> str:
    """Canvas's ``sanitize_user_name``: the sortable name lower-cased, non-word characters removed."""
    return "".join(c for c in f"{person.last}, {person.first}".lower() if c.isalnum() or c == "_")


def build_canvas(root: Path) -> Path:
    attachment = 500
    for person in PEOPLE:
        prefix = canvas_sortable(person) + ("_LATE" if person.late else "") + "_" + person.ids["canvas"]
        seen: set[str] = set()
        for attempt in person.attempts:
            for name, content in attempt.items():
                attachment += 1
                stored = name
                if name in seen:  # uploaded again: Canvas's make_unique_filename
                    stem, _, ext = name.rpartition(".")
                    stored = f"{stem}-1.{ext}"
                seen.add(name)
                write(root / f"{prefix}_{attachment}_{stored}", content)
    write(root / f"{canvas_sortable(PEOPLE[0])}_{PEOPLE[0].ids['canvas']}_text.html", "<p>see attached</p>")
    write(root / "grading rubric.docx", b"PK")
    add_junk(root)
    return root


def build_moodle(root: Path, *, flat: bool = False, trailing: str = "_") -> Path:
    for person in PEOPLE:
        prefix = f"{person.full}_{person.ids['moodle']}_assignsubmission_"
        for name, content in person.latest.items():
            if flat:
                write(root / f"{prefix}file_{name}", content)
            else:
                write(root / f"{prefix}file{trailing}" / name, content)
    online = f"{PEOPLE[0].full}_{PEOPLE[0].ids['moodle']}_assignsubmission_onlinetext{trailing}"
    write(root / online / "onlinetext.html", "<p>done</p>")
    write(root / "feedback.csv", "x")
    add_junk(root)
    return root


def build_blackboard(root: Path) -> Path:
    for person in PEOPLE:
        user = person.ids["bb"]
        for number, attempt in enumerate(person.attempts):
            stamp = f"2024-03-0{number + 1}-23-59-0{number}"
            prefix = f"{ASSIGNMENT}_{user}_attempt_{stamp}"
            listing = ""
            for name, content in attempt.items():
                write(root / f"{prefix}_{name}", content)
                listing += f"\tOriginal filename: {name}\n\tFilename: {prefix}_{name}\n\n"
            receipt = (
                f"Name: {person.full} ({user})\nAssignment: {ASSIGNMENT}\n"
                f"Date Submitted: Friday, March 1, 2024 11:59:0{number} PM EST\nCurrent Grade: Needs Grading\n\n"
                "Submission Field:\nThere is no student submission text data for this assignment.\n\n"
                "Comments:\nThere are no student comments for this assignment.\n\n"
                f"Files:\n{listing}"
            )
            write(root / f"{prefix}.txt", receipt)
    write(root / "gradebook_notes.xlsx", b"PK")
    add_junk(root)
    return root


def build_brightspace(root: Path, *, folders: bool = False) -> Path:
    submission = 70000
    for person in PEOPLE:
        for number, attempt in enumerate(person.attempts):
            submission += 1
            when = f"Mar {number + 1}, 2024 {11 - number}{number}5 {'PM' if number else 'AM'}"
            head = f"{submission}-{person.ids['d2l']} - {person.last}, {person.first} - {when}"
            for name, content in attempt.items():
                write(root / head / name if folders else root / f"{head} - {name}", content)
    write(root / "index.html", "<html><body>Week 3</body></html>")
    write(root / "stray.py", "print('whose?')")
    add_junk(root)
    return root


def build_gradescope(root: Path) -> Path:
    export = root / "assignment_4242_export"
    lines = ["---"]
    for number, person in enumerate(PEOPLE):
        key = f"submission_{9000 + number}"
        for name, content in person.latest.items():
            write(export / key / name, content)
        sid = f"'{person.ids['gs']}'" if person.ids["gs"] else ""
        lines += [
            f"{key}:",
            "  :submitters:",
            f"  - :name: {person.full}",
            f"    :sid: {sid}",
            f"    :email: {person.key}@example.edu",
            f"  :created_at: 2024-03-0{number + 1} 23:59:00.000000000 -08:00",
            "  :score: !ruby/object:BigDecimal 18:0.5e1",
            "  :status: processed",
        ]
    write(export / "submission_metadata.yml", "\n".join(lines) + "\n")
    write(export / "submission_9999" / "ex_tiny.py", CORRECT)  # not in the metadata
    return root


def build_classroom(root: Path) -> Path:
    base = root / "week3-tensors-submissions"
    for person in PEOPLE:
        repo = base / f"week3-tensors-{person.ids['gh']}"
        for name, content in person.latest.items():
            write(repo / name, content)
        write(repo / ".git" / "HEAD", "ref: refs/heads/main\n")
        write(repo / ".git" / "objects" / "ex_tiny.py", WRONG)  # never read as the student's work
    return root


#: layout -> (builder, the id key in Person.ids, display name of a person, whether the export says "late")
LAYOUT_CASES: dict[str, tuple[Callable[[Path], Path], str, Callable[[Person], str], bool]] = {
    "canvas": (build_canvas, "canvas", canvas_sortable, True),
    "moodle": (build_moodle, "moodle", lambda p: p.full, False),
    "blackboard": (build_blackboard, "bb", lambda p: p.full, False),
    "brightspace": (build_brightspace, "d2l", lambda p: f"{p.last}, {p.first}", False),
    "gradescope": (build_gradescope, "gs", lambda p: p.full, False),
    "classroom": (build_classroom, "gh", lambda p: p.ids["gh"], False),
}


#: The file of each export that belongs to no student.
STRAY = {
    "canvas": ["grading rubric.docx"],
    "moodle": ["feedback.csv"],
    "blackboard": ["gradebook_notes.xlsx"],
    "brightspace": ["stray.py"],
    "gradescope": ["submission_9999"],
    "classroom": [],
}


def expected_id(person: Person, key: str) -> str:
    return person.ids[key] or f"{person.key}@example.edu"  # Gradescope: no sid, so the email


def zipped(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                out.write(path, path.relative_to(folder).as_posix())
    return archive


# --- who the students are -----------------------------------------------------------


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
@pytest.mark.parametrize("layout", list(LAYOUT_CASES))
def test_each_layout_is_detected_with_the_right_students(
    layout: str, as_zip: bool, tmp_path: Path, tiny: Assignment
) -> None:
    build, key, shown, says_late = LAYOUT_CASES[layout]
    source = build(tmp_path / "export")
    if as_zip:
        source = zipped(source, tmp_path / "export.zip")
    with open_roster(source) as roster:
        assert roster.layout == layout and roster.detected
        assert roster.describe().startswith(f"layout: {roster.title} (detected), {len(PEOPLE)} students")
        students = {s.id: s for s in roster.students}
        assert sorted(students) == sorted(expected_id(p, key) for p in PEOPLE)
        for person in PEOPLE:
            student = students[expected_id(person, key)]
            assert student.name == shown(person)
            assert student.late == (person.late if says_late else None)
            submission = read_submission(student, tiny)
            assert submission.name == student.id
            assert submission.exercises == ("ex_tiny",), (person.key, student.parts, submission.problems)
        unattributed = [item.path for item in roster.unattributed]
        assert not any("__MACOSX" in path or ".DS_Store" in path or ".git" in path for path in unattributed)
    assert unattributed == STRAY[layout]


def test_canvas_details(tmp_path: Path, tiny: Assignment) -> None:
    with open_roster(build_canvas(tmp_path / "export")) as roster:
        students = {s.id: s for s in roster.students}
    bob = students["1002"]
    assert bob.late is True and students["1001"].late is False
    (part,) = bob.parts
    assert part.where == "ex_tiny.py" and part.path.name.endswith("_ex_tiny-1.py")  # the re-upload is the latest
    assert any("superseded by ex_tiny-1.py" in note for note in bob.notes)
    assert any("text entry" in note for note in students["1001"].notes)
    assert students["1005"].name == "müllerøstergårdéve"  # accents are word characters to Canvas
    carol = read_submission(students["1003"], tiny)
    assert any("notes.pdf" in problem and "not graded" in problem for problem in carol.problems)


def test_canvas_anonymous_grading_and_names_with_digits(tmp_path: Path) -> None:
    root = tmp_path / "export"
    write(root / "anon_Xy3Zq_8001_ex_tiny.py", CORRECT)
    write(root / "LATE_anon_Ab9Cd_8002_2024_ex_tiny.py", CORRECT)  # an original name starting with digits
    write(root / "anon_Ab9Cd_text.html", "<p>hi</p>")
    write(root / "o_brien_smith_1234_8003_ex_tiny-2.py", WRONG)
    write(root / "o_brien_smith_1234_8004_ex_tiny-10.py", CORRECT)
    with open_roster(root) as roster:
        students = {s.id: s for s in roster.students}
    assert set(students) == {"anon_Xy3Zq", "anon_Ab9Cd", "1234"}
    assert students["anon_Ab9Cd"].late is True
    assert [p.where for p in students["anon_Ab9Cd"].parts] == ["2024_ex_tiny.py"]
    assert students["1234"].name == "o_brien_smith"
    (latest,) = students["1234"].parts
    assert latest.path.name.endswith("ex_tiny-10.py")  # -10 is later than -2, not before it
    assert original_name("ex_tiny-1.py") == ("ex_tiny.py", 1)
    assert original_name("model-3f2504e0-4f89-41d3-9a0c-0305e82c3301.py") == ("model.py", 1)
    assert original_name("ex_tiny.py") == ("ex_tiny.py", 0)


@pytest.mark.parametrize("variant", ["flat", "folder-old", "folder-new"])
def test_moodle_variants(variant: str, tmp_path: Path, tiny: Assignment) -> None:
    root = build_moodle(tmp_path / "export", flat=variant == "flat", trailing="" if variant == "folder-new" else "_")
    with open_roster(root) as roster:
        assert roster.layout == "moodle"
        students = {s.id: s for s in roster.students}
    assert sorted(students) == ["2001", "2002", "2003", "2004", "2005"]
    assert students["2005"].name == "Éve Müller-Østergård"
    assert any("online text" in note for note in students["2001"].notes)
    assert read_submission(students["2005"], tiny).exercises == ("ex_tiny",)


def test_moodle_keeps_the_students_subfolders(tmp_path: Path, tiny: Assignment) -> None:
    root = tmp_path / "export"
    write(root / "Ann Marie Li_77_assignsubmission_file_" / "lab" / "src" / "ex_tiny.py", CORRECT)
    write(root / "Participant_78_assignsubmission_file_" / "ex_tiny.py", WRONG)  # blind marking
    with open_roster(root) as roster:
        students = {s.id: s for s in roster.students}
    assert students["77"].name == "Ann Marie Li" and students["78"].name == "Participant"
    submission = read_submission(students["77"], tiny)
    assert submission.locations[("ex_tiny", "double")].file == "lab/src/ex_tiny.py"


def test_blackboard_latest_attempt_and_receipts(tmp_path: Path) -> None:
    with open_roster(build_blackboard(tmp_path / "export")) as roster:
        students = {s.id: s for s in roster.students}
    bob = students["b_jones"]  # an underscore in the username, and in the assignment name
    assert bob.name == "Bob Jones"
    assert [p.path.name for p in bob.parts] == [f"{ASSIGNMENT}_b_jones_attempt_2024-03-02-23-59-01_ex_tiny.py"]
    assert any("2024-03-01 23:59:00" in note and "earlier attempt" in note for note in bob.notes)


def test_blackboard_without_receipts_takes_the_username_before_attempt(tmp_path: Path) -> None:
    root = tmp_path / "export"
    write(root / "HW1_jdoe_attempt_2024-01-15-23-59-03_ex_tiny.py", CORRECT)
    write(root / "HW1_jdoe_attempt_2024-01-16-10-00-00_ex_tiny.py", WRONG)
    write(root / "HW1_amy_attempt_2024-01-15-08-00-00.txt", "Name: Amy Wu (amy)\n")  # a receipt, no files
    with open_roster(root) as roster:
        students = {s.id: s for s in roster.students}
    assert set(students) == {"jdoe", "amy"}
    assert [p.path.name for p in students["jdoe"].parts] == ["HW1_jdoe_attempt_2024-01-16-10-00-00_ex_tiny.py"]
    assert students["amy"].parts == () and any("no file" in note for note in students["amy"].notes)


def test_brightspace_folder_variant_and_latest_date(tmp_path: Path) -> None:
    with open_roster(build_brightspace(tmp_path / "export", folders=True)) as roster:
        assert roster.layout == "brightspace"
        students = {s.id: s for s in roster.students}
    (part,) = students["3002"].parts
    assert "Mar 2, 2024" in part.path.name  # 10:15 PM on the 2nd beats 11:05 AM on the 1st
    assert any("Mar 1, 2024" in note for note in students["3002"].notes)


def test_gradescope_group_submission_and_ruby_tags(tmp_path: Path) -> None:
    export = tmp_path / "export"
    write(export / "submission_1" / "ex_tiny.py", CORRECT)
    write(
        export / "submission_metadata.yml",
        "---\nsubmission_1:\n  :submitters:\n  - :name: Ana\n    :sid: '11'\n    :email: ana@x.edu\n"
        "  - :name: Ben\n    :sid: '12'\n    :email: ben@x.edu\n  :created_at: 2024-01-01 10:00:00 +00:00\n"
        "  :score: !ruby/object:BigDecimal 18:0.5e1\n  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "    tests: []\n",
    )
    with open_roster(export) as roster:
        assert sorted((s.id, s.name) for s in roster.students) == [("11", "Ana"), ("12", "Ben")]
    write(export / "submission_metadata.yml", "submission_1: [unclosed\n")
    with pytest.raises(UsageError, match="not a readable Gradescope"), open_roster(export):
        pass


def test_a_clean_folder_is_read_as_before(tmp_path: Path) -> None:
    root = clean_class(tmp_path / "class")
    write(root / "alice.ipynb", NOTEBOOK)  # beside the folder alice/: both kept, distinguishable
    write(root / "notes.txt", "not a submission")
    add_junk(root)
    with open_roster(root) as roster:
        assert roster.layout == "folder"
        assert [s.id for s in roster.students] == ["alice", "alice.ipynb", "bob", "carol", "dana", "eve"]
        assert [item.path for item in roster.unattributed] == ["notes.txt"]


def test_forced_layout_and_clear_errors(tmp_path: Path) -> None:
    root = build_canvas(tmp_path / "export")
    with open_roster(root, layout="folder") as roster:
        assert roster.layout == "folder" and not roster.detected
        assert "forced" in roster.describe()
        assert len(roster.students) > len(PEOPLE)  # every file its own student: what --layout folder asks for
    with pytest.raises(UsageError, match="holds no submissions as Moodle"), open_roster(root, layout="moodle"):
        pass
    with pytest.raises(UsageError, match="unknown layout"), open_roster(root, layout="webct"):
        pass
    assert set(LAYOUTS) == {"folder", *LAYOUT_CASES}


def test_detection_needs_most_entries_to_match(tmp_path: Path) -> None:
    root = clean_class(tmp_path / "class")
    write(root / "smithalice_1001_501_ex_tiny.py", CORRECT)  # one Canvas-looking file among folders
    assert detect_layout(root) == "folder"
    hw = tmp_path / "hw1-submissions"  # named like GitHub Classroom's folder, but not its clones
    clean_class(hw)
    assert detect_layout(hw) == "folder"


def test_class_zip_defences_hold(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("../evil/ex_tiny.py", CORRECT)
        out.writestr("/abs/ex_tiny.py", CORRECT)
        out.writestr("smithalice_1001_501_ex_tiny.py", CORRECT)
        out.writestr("müllerève_1005_502_ex_tiny.py", CORRECT)
    with open_roster(archive) as roster:
        assert roster.layout == "canvas"
        assert {s.id for s in roster.students} == {"1001", "1005"}
    assert not (tmp_path / "evil").exists() and not Path("/abs/ex_tiny.py").exists()
    unflagged = zipfile.ZipInfo("müllerève_1005_502_ex_tiny.py".encode().decode("cp437"))  # as zipfile reads it
    unflagged.flag_bits = 0
    assert decoded_name(unflagged) == "müllerève_1005_502_ex_tiny.py"


# --- the same scores as a clean folder ------------------------------------------------


def _scores(roster: Roster, grader: Grader, assignment: Assignment) -> dict[str, float]:
    return {s.id: grader.grade(read_submission(s, assignment)).score for s in roster.students}


@pytest.mark.slow
def test_every_layout_grades_like_a_clean_folder(tmp_path: Path, tiny: Assignment, tiny_grader: Grader) -> None:
    with open_roster(clean_class(tmp_path / "clean")) as roster:
        clean = _scores(roster, tiny_grader, tiny)
    assert clean == {"alice": 5.0, "bob": 0.0, "carol": 3.0, "dana": 5.0, "eve": 3.0}
    builders = {**{name: case[0] for name, case in LAYOUT_CASES.items()}}
    builders["moodle-flat"] = lambda root: build_moodle(root, flat=True)
    builders["brightspace-folders"] = lambda root: build_brightspace(root, folders=True)
    for layout, build in builders.items():
        key = LAYOUT_CASES[layout.split("-")[0]][1]
        with open_roster(zipped(build(tmp_path / layout), tmp_path / f"{layout}.zip")) as roster:
            scores = _scores(roster, tiny_grader, tiny)
        assert scores == {expected_id(p, key): clean[p.key] for p in PEOPLE}, layout


@pytest.mark.slow
def test_grade_command_on_a_canvas_zip(tmp_path: Path, tiny: Assignment) -> None:
    archive = zipped(build_canvas(tmp_path / "export"), tmp_path / "canvas_export.zip")
    out = tmp_path / "out"
    command = ["grade", str(archive), "--assignment", str(tiny.root), "--out", str(out), "--jobs", "2"]
    result = CliRunner().invoke(cli, [*command, "--gradebook", "canvas"])
    assert result.exit_code == 0, result.output
    assert "layout: Canvas (detected), 5 students" in result.output
    data = json.loads((out / "results.json").read_text())
    assert data["layout"] == "canvas"
    assert [item["path"] for item in data["unattributed"]] == ["grading rubric.docx"]
    rows = {s["id"]: (s["name"], s["late"], s["score"]) for s in data["students"]}
    assert rows == {
        "1001": ("smithalice", False, 5.0),
        "1002": ("jonesbob", True, 0.0),
        "1003": ("leecarolann", False, 3.0),
        "1004": ("oneildana", False, 5.0),
        "1005": ("müllerøstergårdéve", False, 3.0),
    }
    assert json.loads((out / "1002" / "result.json").read_text())["late"] is True
    page = (out / "index.html").read_text()
    assert "Read as <strong>Canvas</strong> (detected)" in page and "grading rubric.docx" in page
    grades = (out / "grades.csv").read_text().splitlines()
    assert grades[0].endswith(",id,name,late") and grades[1].endswith(",1002,jonesbob,true")  # by sortable name
    gradebook = (out / "gradebook-canvas.csv").read_text().splitlines()
    assert gradebook[0] == "Student,ID,SIS User ID,SIS Login ID,Section,Tiny"
    assert gradebook[1] == "Points Possible,,,,,5" and "smithalice,1001,,,,5" in gradebook
    forced = CliRunner().invoke(cli, [*command, "--layout", "moodle"])
    assert forced.exit_code == 2 and "holds no submissions as Moodle" in forced.output


def test_grade_class_accepts_a_path_or_a_roster(tmp_path: Path, tiny: Assignment) -> None:
    # Nothing to grade: the roster is read (and refused) before any sandbox starts.
    with pytest.raises(UsageError, match="does not exist"):
        grade_class(tmp_path / "missing", tmp_path / "out", tiny)


def test_blackboard_without_any_receipt_learns_the_assignment_from_every_name(tmp_path: Path) -> None:
    root = tmp_path / "export"
    for user in ("b_jones", "c_lee", "amy"):
        write(root / f"Lab 2_final_{user}_attempt_2024-01-15-23-59-03_ex_tiny.py", CORRECT)
    with open_roster(root) as roster:
        assert sorted(s.id for s in roster.students) == ["amy", "b_jones", "c_lee"]


def test_ids_are_safe_folder_names_and_distinct(tmp_path: Path) -> None:
    export = tmp_path / "export"
    write(export / "submission_1" / "ex_tiny.py", CORRECT)
    write(export / "submission_2" / "ex_tiny.py", WRONG)
    write(export / "submission_3" / "ex_tiny.py", WRONG)
    long_sid = "x" * 400
    write(
        export / "submission_metadata.yml",
        "submission_1:\n  :submitters:\n  - :name: A\n    :sid: ../../etc\n"
        "submission_2:\n  :submitters:\n  - :name: B\n    :sid: .._.._etc\n"
        f"submission_3:\n  :submitters:\n  - :name: C\n    :sid: {long_sid}\n",
    )
    with open_roster(export) as roster:
        ids = [s.id for s in roster.students]
        assert len(set(ids)) == 3 and all("/" not in i and i not in (".", "..") for i in ids)
        assert all(len(i.encode()) <= 128 for i in ids)
        renamed = [s for s in roster.students if s.id.endswith("-2")]
        assert len(renamed) == 1 and "names another student" in renamed[0].notes[-1]


def _lying_sizes(archive: Path, sizes: dict[str, int]) -> None:
    """Rewrite the uncompressed sizes the zip's headers declare for ``sizes``' entries (a zip bomb's lie)."""
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as opened:
        infos = {info.filename: info for info in opened.infolist()}
    for name, size in sizes.items():
        encoded = name.encode()
        start = 0
        while (pos := data.find(b"PK\x01\x02", start)) >= 0:  # central directory: size at offset 24
            if data[pos + 46 : pos + 46 + len(encoded)] == encoded:
                data[pos + 24 : pos + 28] = size.to_bytes(4, "little")
            start = pos + 4
        local = infos[name].header_offset  # local header: size at offset 22
        data[local + 22 : local + 26] = size.to_bytes(4, "little")
    archive.write_bytes(bytes(data))


def test_a_bomb_in_a_class_export_is_skipped_and_listed(tmp_path: Path, tiny: Assignment) -> None:
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("smithalice_1001_501_ex_tiny.py", CORRECT)
        out.writestr("jonesbob_1002_502_ex_tiny.py", b"#" * 1000)
        out.writestr("leecarol_1003_503_ex_tiny.py", b"\0" * (16 * 1024 * 1024))
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as nested:  # a student's own zip, a bomb too
            nested.writestr("ex_tiny.py", b"\0" * (16 * 1024 * 1024))
        out.writestr("oneildana_1004_504_work.zip", inner.getvalue())
    _lying_sizes(archive, {"jonesbob_1002_502_ex_tiny.py": 0xFFFFFFFF, "leecarol_1003_503_ex_tiny.py": 100})
    with open_roster(archive) as roster:
        assert [s.id for s in roster.students] == ["1004", "1001"]  # by name: oneildana, smithalice
        reasons = {item.path: item.reason for item in roster.unattributed}
        assert "over the size limit" in reasons["jonesbob_1002_502_ex_tiny.py"]
        assert "cannot be extracted" in reasons["leecarol_1003_503_ex_tiny.py"]
        dana = read_submission(roster.students[0], tiny)
        assert sum(len(data) for data in dana.files.values()) <= 16 * 1024 * 1024 + 1
        assert read_submission(roster.students[1], tiny).exercises == ("ex_tiny",)


def test_brightspace_student_number_is_the_one_that_stays_put(tmp_path: Path) -> None:
    root = tmp_path / "export"
    # Here the first number is the student's: it stays while the other changes with each submission.
    write(root / "501-9001 - Lee, Ann - Mar 1, 2024 1105 AM - ex_tiny.py", WRONG)
    write(root / "501-9007 - Lee, Ann - Mar 2, 2024 1015 PM - ex_tiny.py", CORRECT)
    write(root / "502-9002 - Kim, Bo - Mar 1, 2024 900 AM - ex_tiny.py", CORRECT)
    with open_roster(root) as roster:
        students = {s.id: s for s in roster.students}
    assert set(students) == {"501", "502"}
    assert "9007" in students["501"].parts[0].path.name


# -- two people under one id, or one name under two ids: never merged ---------------------


def _kept_apart(root: Path) -> tuple[dict[str, str], tuple[str, ...]]:
    """Each student's display name by id, and the clashes reported."""
    with open_roster(root) as roster:
        assert all(clash in roster.describe() for clash in roster.clashes)
        return {s.id: s.name for s in roster.students}, roster.clashes


def test_brightspace_never_merges_two_names_under_one_id(tmp_path: Path) -> None:
    root = tmp_path / "export"
    write(root / "123456-987654 - Doe, Jane - Mar 1, 2024 1105 AM - ex_tiny.py", CORRECT)
    write(root / "123457-987654 - Smith, Bob - Mar 1, 2024 1106 AM - ex_tiny.py", WRONG)
    with open_roster(root) as roster:
        students = {s.name: s for s in roster.students}
        (clash,) = roster.clashes
    assert set(students) == {"Doe, Jane", "Smith, Bob"}
    assert students["Doe, Jane"].id != students["Smith, Bob"].id
    assert "123456" in students["Doe, Jane"].parts[0].path.name
    assert "123457" in students["Smith, Bob"].parts[0].path.name
    assert "987654" in clash and "Doe, Jane" in clash and "Smith, Bob" in clash


def test_brightspace_one_name_under_two_ids_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "export"
    write(root / "501-9001 - Lee, Ann - Mar 1, 2024 1105 AM - ex_tiny.py", CORRECT)
    write(root / "502-9002 - Lee, Ann - Mar 1, 2024 1106 AM - ex_tiny.py", WRONG)
    names, clashes = _kept_apart(root)
    assert names == {"9001": "Lee, Ann", "9002": "Lee, Ann"}
    assert len(clashes) == 1 and "Lee, Ann" in clashes[0] and "9001, 9002" in clashes[0]


def test_canvas_moodle_and_blackboard_never_merge_two_names_under_one_id(tmp_path: Path) -> None:
    canvas = tmp_path / "canvas"
    write(canvas / "doejane_41_101_ex_tiny.py", CORRECT)
    write(canvas / "smithbob_41_102_ex_tiny.py", WRONG)
    moodle = tmp_path / "moodle"
    write(moodle / "Jane Doe_41_assignsubmission_file_" / "ex_tiny.py", CORRECT)
    write(moodle / "Bob Smith_41_assignsubmission_file_" / "ex_tiny.py", WRONG)
    blackboard = tmp_path / "blackboard"
    for number, (full, source) in enumerate((("Jane Doe", CORRECT), ("Bob Smith", WRONG))):
        prefix = f"HW1_jd_attempt_2024-01-1{number + 5}-23-59-03"
        write(blackboard / f"{prefix}_ex_tiny.py", source)
        write(blackboard / f"{prefix}.txt", f"Name: {full} (jd)\n")
    for root, names in (
        (canvas, {"doejane", "smithbob"}),
        (moodle, {"Jane Doe", "Bob Smith"}),
        (blackboard, {"Jane Doe", "Bob Smith"}),
    ):
        students, clashes = _kept_apart(root)
        assert set(students.values()) == names, root.name
        assert len(students) == 2 and len(clashes) == 1, root.name


def test_gradescope_keeps_two_names_under_one_sid_apart(tmp_path: Path) -> None:
    root = tmp_path / "export"
    metadata = ""
    for number, name in ((1, "Jane Doe"), (2, "Bob Smith")):
        write(root / f"submission_{number}" / "ex_tiny.py", CORRECT)
        metadata += f"submission_{number}:\n  :submitters:\n  - :name: {name}\n    :sid: '41'\n"
    write(root / "submission_metadata.yml", metadata)
    students, clashes = _kept_apart(root)
    assert sorted(students.values()) == ["Bob Smith", "Jane Doe"] and len(clashes) == 1


def test_a_clash_is_on_the_overview_and_in_results_json(tmp_path: Path, tiny: Assignment) -> None:
    root = tmp_path / "export"
    write(root / "123456-987654 - Doe, Jane - Mar 1, 2024 1105 AM - ex_tiny.py", CORRECT)
    write(root / "123457-987654 - Smith, Bob - Mar 1, 2024 1106 AM - ex_tiny.py", WRONG)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["grade", str(root), "--out", str(out), "--assignment", str(tiny.root)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "results.json").read_text())
    scores = {s["name"]: s["score"] for s in data["students"]}
    assert scores == {"Doe, Jane": 5.0, "Smith, Bob": 0.0}
    (clash,) = data["clashes"]
    assert "987654" in clash
    assert "Students kept apart" in (out / "index.html").read_text()
