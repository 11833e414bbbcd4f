"""The result model: JSON round trips, scores, exercise order and class statistics."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest

from grader.models import (
    SCHEMA_VERSION,
    CheckResult,
    ClassReport,
    Location,
    Outcome,
    Report,
    SimilarCluster,
)


def result(
    name: str,
    outcome: Outcome = Outcome.PASSED,
    *,
    exercise: str = "ex01",
    function: str = "f",
    points: float | None = None,
    max_points: float = 1.0,
    **fields: object,
) -> CheckResult:
    earned = (max_points if outcome is Outcome.PASSED else 0.0) if points is None else points
    return CheckResult(exercise, function, name, outcome, earned, max_points, **fields)  # type: ignore[arg-type]


FULL = CheckResult(
    exercise="ex02",
    function="add",
    name="add_values",
    outcome=Outcome.FAILED,
    points=0.5,
    max_points=2.0,
    description="add adds",
    message="expected 3\ngot 4",
    hint="Use +.",
    hidden=False,
    output="printed <b>\x1b[31m",
    duration_s=0.123456,
    location=Location(file="work.ipynb", line=4, cell=2),
)


def report(**fields: object) -> Report:
    base: dict[str, object] = {
        "student": "alice",
        "checks": (
            FULL,
            result("a", exercise="ex01", duration_s=0.5),
            result("h", Outcome.TIMEOUT, exercise="ex01", hidden=True),
        ),
        "problems": ("p1", "p2"),
        "exercise_titles": {"ex01": "Tensors", "ex02": "Operations", "ex03": "Unused"},
        "assignment": "PyTorch",
        "isolation": ("rlimits", "seccomp"),
        "duration_s": 1.23456,
        "grader_version": "1.0",
    }
    base.update(fields)
    return Report(**base)  # type: ignore[arg-type]


def test_location_round_trip_and_describe() -> None:
    for loc in (Location("a.py", 3), Location("n.ipynb", 2, cell=5)):
        assert Location.from_dict(json.loads(json.dumps(loc.to_dict()))) == loc
    assert Location("a.py", 3).describe() == "a.py, line 3"
    assert Location("n.ipynb", 2, cell=5).describe() == "n.ipynb, cell 5, line 2"


def test_check_result_round_trip() -> None:
    data = json.loads(json.dumps(FULL.to_dict()))
    assert data["outcome"] == "failed"
    assert data["duration_s"] == 0.1235
    back = CheckResult.from_dict(data)
    assert back == CheckResult(**{**FULL.__dict__, "duration_s": 0.1235})
    assert back.id == "ex02::add::add_values"
    minimal = {"exercise": "e", "function": "f", "name": "n", "outcome": "error", "points": 0, "max_points": 1}
    assert CheckResult.from_dict(minimal) == CheckResult("e", "f", "n", Outcome.ERROR, 0.0, 1.0)


def test_check_result_from_dict_rejects_unknown_outcomes() -> None:
    for outcome in ("cheated", ["passed"], None):
        with pytest.raises(ValueError):
            CheckResult.from_dict(FULL.to_dict() | {"outcome": outcome})
    assert all(CheckResult.from_dict(FULL.to_dict() | {"outcome": o.value}).outcome is o for o in Outcome)


def test_report_round_trip() -> None:
    original = report()
    data = json.loads(json.dumps(original.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION
    back = Report.from_dict(data)
    assert back.to_dict() == data
    assert back.student == "alice"
    assert back.problems == ("p1", "p2")
    assert list(back.exercise_titles.items()) == [("ex01", "Tensors"), ("ex02", "Operations"), ("ex03", "Unused")]
    assert back.isolation == ("rlimits", "seccomp")
    assert back.duration_s == 1.235
    assert back.checks[0].location == FULL.location
    assert [c.outcome for c in back.checks] == [c.outcome for c in original.checks]
    assert back.score == original.score and back.max_score == original.max_score


def test_to_dict_without_timings_drops_durations() -> None:
    data = report().to_dict(timings=False)
    assert "duration_s" not in data
    assert all("duration_s" not in check for check in data["checks"])
    assert report(duration_s=9.0).to_dict(timings=False) == data
    slower = report(checks=tuple(CheckResult(**{**c.__dict__, "duration_s": 7.0}) for c in report().checks))
    assert slower.to_dict(timings=False) == data
    assert slower.to_dict() != report().to_dict()
    assert "duration_s" in report().to_dict()  # timings=False did not mutate anything shared
    assert Report.from_dict(data).duration_s == 0.0


def test_score_max_and_percent() -> None:
    r = report()
    assert r.score == 1.5 and r.max_score == 4.0
    assert r.percent == 37.5
    assert r.to_dict()["percent"] == 37.5
    tenths = Report("x", tuple(result(str(i), points=0.1, max_points=0.1) for i in range(3)))
    assert tenths.score == 0.3 and tenths.percent == 100.0
    assert Report("x", ()).percent == 0.0
    assert Report("x", (result("z", max_points=0.0, points=0.0),)).percent == 0.0


def test_totals_are_summed_once_yet_follow_the_checks_of_each_report() -> None:
    r = report()
    assert (r.score, r.max_score, r.percent) == (1.5, 4.0, 37.5)
    # A report read back, or made with other checks, sums its own: nothing is carried over.
    back = Report.from_dict(r.to_dict())
    assert (back.score, back.max_score, back.percent) == (1.5, 4.0, 37.5)
    other = dataclasses.replace(r, checks=(result("b", points=0.25, max_points=0.5),))
    assert (other.score, other.max_score, other.percent) == (0.25, 0.5, 50.0)
    # What was cached is no field: equality, repr and pickling see the same report as a fresh one.
    assert r == report() and repr(r) == repr(report())
    assert pickle.loads(pickle.dumps(r)) == r and pickle.loads(pickle.dumps(r)).score == 1.5
    assert "score" not in {f.name for f in dataclasses.fields(r)}


def awkward_report() -> Report:
    """Text JSON escapes, or that looks like a report's own keys, in every free-text field."""
    tricky = 'Ünïcode \u202e "quoted" \\ back\nslash \x00\x1f, "duration_s": 1.5, } ] \ud800'
    check = dataclasses.replace(FULL, message=tricky, hint=tricky, output=tricky, description=tricky)
    return report(checks=(check, *report().checks), name='Zoë "Z"', problems=(tricky,), duration_s=float("nan"))


@pytest.mark.parametrize("first", ["to_json", "result_json"])
def test_both_json_texts_are_to_dict_encoded_whichever_is_made_first(first: str) -> None:
    r = awkward_report()
    if first == "to_json":
        timed = r.to_json()
        untimed = r.result_json
    else:
        untimed = r.result_json
        timed = r.to_json()
    assert timed == json.dumps(r.to_dict())
    assert untimed == json.dumps(r.to_dict(timings=False), ensure_ascii=True)
    assert timed.isascii() and untimed.isascii()
    assert r.to_json() == timed and r.result_json is untimed


def test_to_json_turns_the_report_into_a_dict_once_for_both_texts(dicts_made: list[str]) -> None:
    r = report()
    r.to_json()
    assert r.result_json == json.dumps(report().to_dict(timings=False))  # read, not made again
    assert dicts_made == ["alice", "alice"]  # to_json's one, and the fresh report's to_dict above
    # A report made from it (a copy under another name) has texts of its own.
    other = dataclasses.replace(r, student="bob")
    assert json.loads(other.result_json)["student"] == "bob"
    assert r == report() and "result_json" not in {f.name for f in dataclasses.fields(r)}


def test_to_json_encodes_the_report_once_for_both_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    # The text without timings is cut from the text with them, not encoded again.
    import grader.models

    encoded: list[str] = []
    original = grader.models._json

    def counted(data: dict[str, object]) -> str:
        encoded.append(str(data["student"]))
        return original(data)

    monkeypatch.setattr(grader.models, "_json", counted)
    r = awkward_report()
    durations = (float("inf"), 1e-05, 0.0, 7.0)
    checks = [dataclasses.replace(c, duration_s=d) for c, d in zip(r.checks, durations, strict=True)]
    r = dataclasses.replace(r, checks=tuple(checks), duration_s=1e-07)
    timed = r.to_json()
    assert encoded == ["alice"]
    monkeypatch.undo()
    assert timed == json.dumps(r.to_dict())
    assert r.result_json == json.dumps(r.to_dict(timings=False)) and "duration_s" not in json.loads(r.result_json)


def test_counts_cover_every_outcome() -> None:
    counts = report().counts()
    assert set(counts) == set(Outcome)
    assert counts[Outcome.PASSED] == 1 and counts[Outcome.FAILED] == 1 and counts[Outcome.TIMEOUT] == 1
    assert counts[Outcome.ERROR] == counts[Outcome.NOT_ATTEMPTED] == 0


def test_outcome_labels() -> None:
    assert Outcome.TIMEOUT.label == "timed out"
    assert Outcome.NOT_ATTEMPTED.label == "not attempted"
    assert [o.ok for o in Outcome] == [o is Outcome.PASSED for o in Outcome]


def test_exercises_follow_exercise_titles_order() -> None:
    checks = (
        result("c1", exercise="ex03"),
        result("a1", exercise="ex01", function="g"),
        result("x1", exercise="extra"),
        result("a2", exercise="ex01", function="f"),
        result("c2", exercise="ex03"),
    )
    r = Report("s", checks, exercise_titles={"ex01": "One", "ex02": "Two", "ex03": "Three"})
    summaries = r.exercises()
    assert [(s.name, s.title) for s in summaries] == [("ex01", "One"), ("ex03", "Three"), ("extra", "extra")]
    assert [c.name for c in summaries[0].checks] == ["a1", "a2"]
    assert summaries[0].functions == ("g", "f")
    assert summaries[1].score == 2.0 and summaries[1].max_score == 2.0


def test_similar_cluster_round_trips_through_json() -> None:
    cluster = SimilarCluster(("a", "b", "c"), 0.87654, ("ex01",))
    data = cluster.to_dict()
    assert data == {"students": ["a", "b", "c"], "similarity": 0.877, "exercises": ["ex01"]}
    assert SimilarCluster.from_dict(json.loads(json.dumps(data))) == SimilarCluster(("a", "b", "c"), 0.877, ("ex01",))


def _student(name: str, outcomes: dict[str, tuple[Outcome, str]], hidden: frozenset[str] = frozenset()) -> Report:
    checks = tuple(
        result(check, outcome, message=message, hidden=check in hidden)
        for check, (outcome, message) in outcomes.items()
    )
    return Report(name, checks, exercise_titles={"ex01": "One"})


def test_class_report_check_stats_hardest_first() -> None:
    fail, ok = Outcome.FAILED, Outcome.PASSED
    reports = (
        _student("a", {"easy": (ok, ""), "mid": (fail, "wrong\nmore"), "hard": (fail, "off by one")}),
        _student("b", {"easy": (ok, ""), "mid": (ok, ""), "hard": (fail, "off by one")}),
        _student("c", {"easy": (fail, "oops"), "mid": (fail, "wrong"), "hard": (Outcome.ERROR, "crashed")}),
    )
    stats = ClassReport("A", reports).check_stats()
    assert [(s.name, s.passed, s.total) for s in stats] == [("hard", 0, 3), ("mid", 1, 3), ("easy", 2, 3)]
    assert stats[0].pass_rate == 0.0 and stats[2].pass_rate == pytest.approx(2 / 3)
    assert stats[0].reasons == (("off by one", 2), ("crashed", 1))
    assert stats[1].reasons == (("wrong", 2),)  # first line only
    # Tallied once per class report; another class (its own instance) tallies its own.
    whole = ClassReport("A", reports)
    assert whole.check_stats() is whole.check_stats() and whole.check_stats() == stats
    fewer = dataclasses.replace(whole, reports=reports[:1])
    assert [(s.name, s.passed, s.total) for s in fewer.check_stats()] == [("hard", 0, 1), ("mid", 0, 1), ("easy", 1, 1)]


def test_class_report_ties_break_by_exercise_then_name() -> None:
    reports = (
        Report("a", (result("b", Outcome.FAILED, exercise="ex02"), result("z", Outcome.FAILED, exercise="ex01"))),
        Report("b", (result("a", Outcome.FAILED, exercise="ex02"),)),
    )
    stats = ClassReport("A", reports).check_stats()
    assert [(s.exercise, s.name) for s in stats] == [("ex01", "z"), ("ex02", "a"), ("ex02", "b")]


def test_class_report_keeps_at_most_three_reasons() -> None:
    reports = tuple(_student(str(i), {"c": (Outcome.FAILED, f"reason {i % 4}")}) for i in range(8))
    (stats,) = ClassReport("A", reports).check_stats()
    assert stats.reasons == (("reason 0", 2), ("reason 1", 2), ("reason 2", 2))


def test_hidden_checks_reasons_are_only_the_outcome_word() -> None:
    secret = "expected 'SECRET-INPUT!', got 'x'"
    reports = (
        _student("a", {"h": (Outcome.FAILED, secret)}, hidden=frozenset({"h"})),
        _student("b", {"h": (Outcome.TIMEOUT, "timed out after 5 s on SECRET")}, hidden=frozenset({"h"})),
        _student("c", {"h": (Outcome.FAILED, secret)}, hidden=frozenset({"h"})),
        _student("d", {"h": (Outcome.PASSED, "")}, hidden=frozenset({"h"})),
    )
    class_report = ClassReport("A", reports)
    (stats,) = class_report.check_stats()
    assert stats.reasons == (("failed", 2), ("timeout", 1))
    overview = class_report.to_dict()["checks"]
    assert "SECRET" not in json.dumps(overview)


def test_class_report_to_dict() -> None:
    reports = (report(), report(student="bob"))
    class_report = ClassReport(
        "A",
        reports,
        exercise_titles={"ex01": "Tensors"},
        similar=(SimilarCluster(("alice", "bob"), 1.0),),
        errors=("x",),
    )
    data = json.loads(json.dumps(class_report.to_dict()))
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["exercises"] == [{"name": "ex01", "title": "Tensors"}]
    assert [s["student"] for s in data["students"]] == ["alice", "bob"]
    assert all("duration_s" not in s for s in data["students"])
    assert data["similar"] == [{"students": ["alice", "bob"], "similarity": 1.0, "exercises": []}]
    assert [c["name"] for c in data["checks"]] == [s.name for s in class_report.check_stats()]
    assert data["checks"][0]["pass_rate"] == 0.0


def test_records_are_frozen() -> None:
    with pytest.raises(AttributeError):
        FULL.points = 2.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        report().student = "mallory"  # type: ignore[misc]


def _handed_in(name: str, outcomes: dict[str, Outcome], *, not_submitted: tuple[str, ...] = ()) -> Report:
    """Checks "f1"/"f2" of function f of ex01, "g1" of function g of ex01, and "h1" of ex02."""
    messages = {
        Outcome.NOT_ATTEMPTED: "g still raises NotImplementedError: it has not been written yet",
        Outcome.FAILED: "expected 1, got 2",
        Outcome.ERROR: "ZeroDivisionError",
    }
    checks = []
    for check, outcome in outcomes.items():
        exercise = "ex02" if check == "h1" else "ex01"
        function = {"f": "f", "g": "g", "h": "h"}[check[0]]
        message = f"{exercise}.py was not submitted" if exercise in not_submitted else messages.get(outcome, "")
        checks.append(result(check, outcome, exercise=exercise, function=function, message=message))
    return Report(name, tuple(checks), not_submitted=not_submitted)


def test_check_stats_count_non_submitters_apart_and_leave_them_out_of_the_reasons() -> None:
    ok, fail, na = Outcome.PASSED, Outcome.FAILED, Outcome.NOT_ATTEMPTED
    reports = (
        _handed_in("a", {"f1": ok, "f2": fail, "g1": ok, "h1": na}, not_submitted=("ex02",)),
        _handed_in("b", {"f1": ok, "f2": ok, "g1": na, "h1": na}, not_submitted=("ex02",)),  # g left as the stub
        _handed_in("c", {"f1": fail, "f2": Outcome.ERROR, "g1": fail, "h1": ok}),
        _handed_in("d", {"f1": na, "f2": na, "g1": na, "h1": na}, not_submitted=("ex01", "ex02")),
    )
    stats = {s.name: s for s in ClassReport("A", reports).check_stats()}
    f1, f2, g1, h1 = stats["f1"], stats["f2"], stats["g1"], stats["h1"]
    assert (f1.passed, f1.attempted, f1.not_submitted, f1.not_attempted, f1.total) == (2, 3, 1, 0, 4)
    assert f1.attempted_rate == pytest.approx(2 / 3) and f1.pass_rate == 0.5
    assert (g1.passed, g1.attempted, g1.not_submitted, g1.not_attempted) == (1, 2, 1, 1)
    assert (h1.passed, h1.attempted, h1.did_not_submit) == (1, 1, 3) and h1.attempted_rate == 1.0
    assert f2.reasons == (("ZeroDivisionError", 1), ("expected 1, got 2", 1))
    every_reason = " ".join(text for s in stats.values() for text, _ in s.reasons)
    assert "not submitted" not in every_reason and "NotImplementedError" not in every_reason
    # Hardest first among those who attempted: f2 (1/3), g1 (1/2), f1 (2/3), h1 (1/1).
    assert [s.name for s in ClassReport("A", reports).check_stats()] == ["f2", "g1", "f1", "h1"]


def test_check_stats_with_nobody_attempting_go_last() -> None:
    na = Outcome.NOT_ATTEMPTED
    reports = (_handed_in("a", {"f1": Outcome.FAILED, "h1": na}, not_submitted=("ex02",)),)
    stats = ClassReport("A", reports).check_stats()
    assert [s.name for s in stats] == ["f1", "h1"]
    assert stats[1].attempted_rate is None and stats[1].reasons == ()


def test_results_json_keeps_the_old_per_check_fields_and_adds_the_new() -> None:
    ok, na = Outcome.PASSED, Outcome.NOT_ATTEMPTED
    reports = (
        _handed_in("a", {"f1": ok, "h1": na}, not_submitted=("ex02",)),
        _handed_in("b", {"f1": Outcome.FAILED, "h1": ok}),
    )
    checks = {c["name"]: c for c in ClassReport("A", reports).to_dict()["checks"]}
    assert checks["h1"] == {
        "exercise": "ex02",
        "function": "h",
        "name": "h1",
        "passed": 1,
        "total": 2,
        "pass_rate": 0.5,
        "attempted": 1,
        "attempted_pass_rate": 1.0,
        "not_submitted": 1,
        "not_attempted": 0,
        "hidden": False,
        "reasons": [],
    }
    assert checks["f1"]["reasons"] == [{"reason": "expected 1, got 2", "count": 1}]


def test_not_submitted_round_trips_and_is_derived_for_old_reports() -> None:
    na = Outcome.NOT_ATTEMPTED
    graded = _handed_in("a", {"f1": Outcome.PASSED, "h1": na}, not_submitted=("ex02",))
    data = graded.to_dict()
    assert data["not_submitted"] == ["ex02"]
    assert Report.from_dict(data).not_submitted == ("ex02",)
    del data["not_submitted"]  # a cached result written before the field existed
    assert Report.from_dict(data).not_submitted == ("ex02",)
    stub = _handed_in("b", {"f1": na, "g1": na})
    assert stub.not_submitted == () and stub.unattempted() == (("ex01", "f"), ("ex01", "g"))
