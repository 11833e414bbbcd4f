"""The result model: frozen records that every renderer reads and nothing mutates.

A ``Report`` serialises to plain JSON (``to_dict``) and back (``from_dict``)
so it can cross process boundaries and be cached without pickle. The JSON
shape of ``Report.to_dict`` is the stable machine-readable contract.
"""

from __future__ import annotations

import enum
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1
#: The message of every check of an exercise the submission does not provide.
NOT_SUBMITTED_MESSAGE = "{exercise}.py was not submitted"


class Outcome(enum.StrEnum):
    """What happened to one check."""

    PASSED = "passed"
    FAILED = "failed"  # the student's value was wrong
    ERROR = "error"  # the student's code raised or crashed
    TIMEOUT = "timeout"  # the student's code ran past its time budget
    NOT_ATTEMPTED = "not_attempted"  # stub's NotImplementedError, or function missing
    #: A student's copy of the assignment could not judge it (a hidden check, or a request whose
    #: reference answer was not recorded): the teacher's grade does. Never a pass, never a fail.
    DEFERRED = "deferred"

    @property
    def ok(self) -> bool:
        return self is Outcome.PASSED

    @property
    def label(self) -> str:
        """The outcome in a reader's words ("timed out", "not attempted"), for every report format."""
        if self is Outcome.DEFERRED:
            return "checked when your teacher grades"
        return self.value.replace("_", " ") if self is not Outcome.TIMEOUT else "timed out"


#: Each outcome by its value: a report read back looks up 123 of them, and ``Outcome(value)``
#: through the enum machinery was a tenth of ``CheckResult.from_dict``.
_OUTCOMES: dict[str, Outcome] = {outcome.value: outcome for outcome in Outcome}


def _outcome(value: Any) -> Outcome:
    """``Outcome(value)``, its error included for anything but a known value."""
    found = _OUTCOMES.get(value) if type(value) is str else None
    return found if found is not None else Outcome(value)


@dataclass(frozen=True)
class Location:
    """Where a student's function is defined, for annotations and messages."""

    file: str  # path relative to the submission root, e.g. "ex05_activations.py"
    line: int  # 1-based line in ``file`` (for a notebook: line in the cell)
    cell: int | None = None  # 1-based cell number (markdown cells counted, as Jupyter shows them) in a notebook

    def describe(self) -> str:
        if self.cell is not None:
            return f"{self.file}, cell {self.cell}, line {self.line}"
        return f"{self.file}, line {self.line}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "cell": self.cell}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        return cls(file=str(data["file"]), line=int(data["line"]), cell=data.get("cell"))


@dataclass(frozen=True)
class CheckResult:
    """The verdict on one check.

    ``message`` is why it failed (expected vs got), ``hint`` the likely mistake;
    for hidden checks both are scrubbed before this record is made.
    ``output`` is what the student's code printed during the check, already
    capped; renderers must escape it.
    """

    exercise: str
    function: str
    name: str
    outcome: Outcome
    points: float
    max_points: float
    #: What the check verifies, in a student's words (the check's docstring).
    description: str = ""
    message: str = ""
    hint: str = ""
    hidden: bool = False
    output: str = ""
    duration_s: float = 0.0
    location: Location | None = None

    @property
    def id(self) -> str:
        return f"{self.exercise}::{self.function}::{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "function": self.function,
            "name": self.name,
            "outcome": self.outcome._value_,  # what ``.value`` gives, without the enum property's call
            "points": self.points,
            "max_points": self.max_points,
            "description": self.description,
            "message": self.message,
            "hint": self.hint,
            "hidden": self.hidden,
            "output": self.output,
            "duration_s": round(self.duration_s, 4),
            "location": self.location.to_dict() if self.location else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        loc = data.get("location")
        return cls(
            exercise=str(data["exercise"]),
            function=str(data["function"]),
            name=str(data["name"]),
            outcome=_outcome(data["outcome"]),
            points=float(data["points"]),
            max_points=float(data["max_points"]),
            description=str(data.get("description", "")),
            message=str(data.get("message", "")),
            hint=str(data.get("hint", "")),
            hidden=bool(data.get("hidden", False)),
            output=str(data.get("output", "")),
            duration_s=float(data.get("duration_s", 0.0)),
            location=Location.from_dict(loc) if loc else None,
        )


@dataclass(frozen=True)
class ExerciseSummary:
    """Derived view: one exercise's checks and subtotal (computed, never stored)."""

    name: str
    title: str
    checks: tuple[CheckResult, ...]

    @property
    def score(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_points for c in self.checks)

    @property
    def functions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.function for c in self.checks))


@dataclass(frozen=True)
class Report:
    """One student's graded submission."""

    student: str
    checks: tuple[CheckResult, ...]
    #: Problems with the submission as a whole, in words a student understands
    #: ("submission.ipynb is not a valid notebook: ..."), plus notes such as
    #: notebook cells skipped.
    problems: tuple[str, ...] = ()
    #: Exercise module name -> human title, in assignment order.
    exercise_titles: Mapping[str, str] = field(default_factory=dict)
    assignment: str = ""
    #: Isolation layers active while grading, e.g. ("rlimits", "landlock", "seccomp").
    isolation: tuple[str, ...] = ()
    duration_s: float = 0.0
    grader_version: str = ""
    #: The student's display name where the class export gives one ("" when only the id is known).
    name: str = ""
    #: Whether the LMS flagged the submission as late; None where the export does not say.
    late: bool | None = None
    #: Exercises graded although the submission does not provide them (``grader grade``
    #: scores everyone on the whole assignment): each of their checks is ``not_attempted``.
    not_submitted: tuple[str, ...] = ()
    #: The full assignment's fingerprint (12 hex digits): which version of the checks graded this.
    fingerprint: str = ""
    #: Graded against a student's copy (recorded reference answers, no hidden checks), not the teacher's grade.
    student_copy: bool = False

    @property
    def deferred(self) -> int:
        """Checks left to the teacher's grade (a student copy's hidden or unrecorded checks)."""
        return sum(1 for check in self.checks if check.outcome is Outcome.DEFERRED)

    def mode(self) -> str:
        """How this report was made, in a sentence for the student ("" for the teacher's grade)."""
        if not self.student_copy:
            return ""
        judged = len(self.checks) - self.deferred
        return (
            f"Checked against your student copy of {self.assignment} (fingerprint {self.fingerprint}): "
            f"{judged} of {len(self.checks)} checks judged here; "
            f"{self.deferred} checked when your teacher grades."
        )

    @property
    def id(self) -> str:
        """The student's identifier: the LMS's id (user id, participant id, username, sid, login) or the folder name."""
        return self.student

    @property
    def display_name(self) -> str:
        return self.name or self.student

    # The totals are read by every renderer, the overview, the cache and the JSON, many
    # times per report: each is summed once. A frozen dataclass without slots lets
    # ``cached_property`` keep it in the instance's ``__dict__``, which equality, ``repr``
    # and ``dataclasses.replace`` (a new instance, summed afresh) never look at.
    @functools.cached_property
    def score(self) -> float:
        return round(sum(c.points for c in self.checks), 6)

    @functools.cached_property
    def max_score(self) -> float:
        return round(sum(c.max_points for c in self.checks), 6)

    @functools.cached_property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def exercises(self) -> tuple[ExerciseSummary, ...]:
        order: dict[str, list[CheckResult]] = {}
        for name in self.exercise_titles:
            order[name] = []
        for check in self.checks:
            order.setdefault(check.exercise, []).append(check)
        return tuple(
            ExerciseSummary(name, self.exercise_titles.get(name, name), tuple(checks))
            for name, checks in order.items()
            if checks
        )

    def unattempted(self) -> tuple[tuple[str, str], ...]:
        """(exercise, function) of each function of a submitted exercise with every check ``not_attempted``.

        The stub left as handed out, or the function missing from the file:
        nothing of it was tried, so nothing of it is a mistake to show.
        """
        outcomes: dict[tuple[str, str], set[Outcome]] = {}
        for check in self.checks:
            if check.exercise not in self.not_submitted:
                outcomes.setdefault((check.exercise, check.function), set()).add(check.outcome)
        # A check left to the teacher's grade (a student copy's hidden check) says nothing either way.
        return tuple(key for key, seen in outcomes.items() if seen - {Outcome.DEFERRED} == {Outcome.NOT_ATTEMPTED})

    def counts(self) -> dict[Outcome, int]:
        counts = {outcome: 0 for outcome in Outcome}
        for check in self.checks:
            counts[check.outcome] += 1
        return counts

    def to_dict(self, *, timings: bool = True) -> dict[str, Any]:
        """The stable JSON shape; ``timings=False`` drops durations so reruns compare equal."""
        data = self._to_dict()
        return data if timings else _without_timings(data)

    def to_json(self) -> str:
        """``to_dict()`` as compact JSON (``ensure_ascii``), and ``result_json`` from the same dict if not made yet.

        A batch writes both texts of every report it grades: its cache entry
        keeps the timings, the student's files leave them out. Asked for
        first, this encodes the report once and makes ``result_json`` from
        its text (``_without_timings_json``); asked for after ``result_json``,
        it makes its own.
        """
        text = _json(self.to_dict())
        if "result_json" not in self.__dict__:
            # Where ``cached_property`` keeps its value: ``result_json`` is then read, not made again.
            self.__dict__["result_json"] = _without_timings_json(text)
        return text

    @functools.cached_property
    def result_json(self) -> str:
        """``to_dict(timings=False)`` as compact JSON (``ensure_ascii``): what result.json and results.json hold.

        Kept, as the totals are: a batch writes it to the student's folder as
        their report arrives and into results.json once the class is graded,
        so a class holds about as much text as results.json until then.
        """
        return _json(self.to_dict(timings=False))

    def _to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "student": self.student,
            "id": self.student,
            "name": self.display_name,
            "late": self.late,
            "score": self.score,
            "max_score": self.max_score,
            "percent": round(self.percent, 2),
            "assignment": self.assignment,
            "checks": [c.to_dict() for c in self.checks],
            "problems": list(self.problems),
            "exercises": [{"name": name, "title": title} for name, title in self.exercise_titles.items()],
            "isolation": list(self.isolation),
            "duration_s": round(self.duration_s, 3),
            "grader_version": self.grader_version,
            "not_submitted": list(self.not_submitted),
            "fingerprint": self.fingerprint,
            "student_copy": self.student_copy,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        checks = tuple(CheckResult.from_dict(c) for c in data["checks"])
        missing = data.get("not_submitted")
        return cls(
            student=str(data["student"]),
            checks=checks,
            not_submitted=tuple(str(e) for e in missing) if missing is not None else _not_submitted(checks),
            problems=tuple(str(p) for p in data.get("problems", ())),
            exercise_titles={str(e["name"]): str(e["title"]) for e in data.get("exercises", ())},
            assignment=str(data.get("assignment", "")),
            isolation=tuple(str(i) for i in data.get("isolation", ())),
            duration_s=float(data.get("duration_s", 0.0)),
            grader_version=str(data.get("grader_version", "")),
            name="" if data.get("name") in (None, data["student"]) else str(data["name"]),
            late=None if data.get("late") is None else bool(data["late"]),
            fingerprint=str(data.get("fingerprint", "")),
            student_copy=bool(data.get("student_copy", False)),
        )


def _without_timings(data: dict[str, Any]) -> dict[str, Any]:
    """A dict ``Report.to_dict`` just made, its durations dropped in place (what ``timings=False`` gives)."""
    data.pop("duration_s")
    for check in data["checks"]:
        check.pop("duration_s")
    return data


#: A duration member of a report's compact JSON, with the separator before it. Only a key can match: in
#: JSON text every quote inside a string is escaped (a backslash before it), and a duration is never an object's
#: first member; its value is a number (or ``NaN``, ``Infinity``), which holds neither a comma nor a brace.
_DURATION_MEMBER = re.compile(r', "duration_s": [^,}]*')


def _without_timings_json(text: str) -> str:
    """``_json(to_dict())``'s text made ``_json(to_dict(timings=False))``'s, without encoding the report again.

    Its duration members are cut out: the rest is the same members, in the same
    order, with the same separators. Encoding a report is most of what its
    texts cost; cutting them out of the text costs about an eighth of that.
    """
    return _DURATION_MEMBER.sub("", text)


def _json(data: dict[str, Any]) -> str:
    """Compact JSON, every non-ASCII character escaped: each file written from a report is encoded so.

    With ``indent``, json falls back to its pure-Python encoder, which was the
    batch's largest cost after grading itself (jq or any viewer pretty-prints).
    """
    return json.dumps(data, ensure_ascii=True)


def _not_submitted(checks: tuple[CheckResult, ...]) -> tuple[str, ...]:
    """For a report saved before ``not_submitted`` was recorded: exercises whose every check says so."""
    by_exercise: dict[str, bool] = {}
    for check in checks:
        missing = check.outcome is Outcome.NOT_ATTEMPTED and check.message == NOT_SUBMITTED_MESSAGE.format(
            exercise=check.exercise
        )
        by_exercise[check.exercise] = by_exercise.get(check.exercise, True) and missing
    return tuple(name for name, missing in by_exercise.items() if missing)


@dataclass(frozen=True)
class UnattributedFile:
    """A file of a class export that belongs to no student: listed for the teacher, never graded."""

    path: str  # relative to the export's root
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True)
class SimilarCluster:
    """A group of students whose own code is identical or nearly so, in at least one exercise.

    Groups are disjoint: a student is in one cluster at most, so a class has
    fewer clusters than students. Every member shares at least ``similarity``
    (Jaccard of code shingles, 0..1) of an exercise with another member; 1.0
    means every member's code in ``exercises`` is the same copy.
    """

    students: tuple[str, ...]
    similarity: float
    exercises: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "students": list(self.students),
            "similarity": round(self.similarity, 3),
            "exercises": list(self.exercises),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimilarCluster:
        return cls(
            students=tuple(str(s) for s in data["students"]),
            similarity=float(data["similarity"]),
            exercises=tuple(str(e) for e in data.get("exercises", ())),
        )


@dataclass(frozen=True)
class CheckStats:
    """How one check went across a class (derived, for the overview).

    A student who did not hand in the function (the exercise not submitted,
    or the stub left as it was) says nothing about how hard the check is:
    they are counted apart, and the pass rate that ranks checks is among
    the students who attempted the function.
    """

    exercise: str
    function: str
    name: str
    passed: int
    total: int
    #: Most common failure messages of students who attempted the function, with how many got each.
    reasons: tuple[tuple[str, int], ...] = ()
    #: A hidden check: its reasons are only outcome words.
    hidden: bool = False
    #: Students who attempted the function: the base of ``attempted_rate``.
    attempted: int = 0
    #: Students who did not submit the exercise at all.
    not_submitted: int = 0
    #: Students who submitted the exercise but not this function (the stub, or no definition).
    not_attempted: int = 0

    @property
    def pass_rate(self) -> float:
        """Passed among every student graded (non-submitters included)."""
        return self.passed / self.total if self.total else 0.0

    @property
    def attempted_rate(self) -> float | None:
        """Passed among the students who attempted the function; None when nobody did."""
        return self.passed / self.attempted if self.attempted else None

    @property
    def did_not_submit(self) -> int:
        return self.not_submitted + self.not_attempted

    def to_dict(self) -> dict[str, Any]:
        rate = self.attempted_rate
        return {
            "exercise": self.exercise,
            "function": self.function,
            "name": self.name,
            "passed": self.passed,
            "total": self.total,
            "pass_rate": round(self.pass_rate, 4),
            "attempted": self.attempted,
            "attempted_pass_rate": None if rate is None else round(rate, 4),
            "not_submitted": self.not_submitted,
            "not_attempted": self.not_attempted,
            "hidden": self.hidden,
            "reasons": [{"reason": text, "count": count} for text, count in self.reasons],
        }


@dataclass
class _Tally:
    passed: int = 0
    attempted: int = 0
    not_submitted: int = 0
    not_attempted: int = 0
    hidden: bool = False
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ClassReport:
    """A whole class graded against the whole assignment."""

    assignment: str
    reports: tuple[Report, ...]
    exercise_titles: Mapping[str, str] = field(default_factory=dict)
    #: Clusters of similar submissions, largest first.
    similar: tuple[SimilarCluster, ...] = ()
    #: Grader-side failures (students that could not be graded at all).
    errors: tuple[str, ...] = ()
    #: How the class was read: "folder", "canvas", "moodle", ... (see ``grader.roster``), and its title.
    layout: str = ""
    layout_title: str = ""
    #: Whether ``layout`` was detected (True) or forced with ``--layout`` (False).
    layout_detected: bool = True
    #: Files of the export that could not be attributed to any student.
    unattributed: tuple[UnattributedFile, ...] = ()
    #: Students the export could have merged, kept apart (``roster.model.separate``): one sentence each.
    clashes: tuple[str, ...] = ()
    #: A digest of everything this report was made from (each student's cached
    #: result, the clusters, the assignment), so that class files written from an
    #: equal one need not be rendered again; "" when unknown.
    fingerprint: str = ""

    def check_stats(self) -> tuple[CheckStats, ...]:
        """Per-check figures, hardest first among the students who attempted each function.

        Failure reasons leave out "not submitted" and "not attempted" (they
        are counted apart), and hidden checks' reasons are only outcome words.
        """
        return self._check_stats

    @functools.cached_property
    def _check_stats(self) -> tuple[CheckStats, ...]:
        # Tallied once: results.json and the overview both read every check of every student
        # for them. The tuple of frozen records is safe to hand out again.
        tallies: dict[tuple[str, str, str], _Tally] = {}
        for report in self.reports:
            missing = set(report.not_submitted)
            unattempted = set(report.unattempted())
            for check in report.checks:
                tally = tallies.setdefault((check.exercise, check.function, check.name), _Tally())
                tally.hidden = tally.hidden or check.hidden
                if check.exercise in missing:
                    tally.not_submitted += 1
                elif (check.exercise, check.function) in unattempted:
                    tally.not_attempted += 1
                else:
                    tally.attempted += 1
                    if check.outcome.ok:
                        tally.passed += 1
                    elif check.outcome is not Outcome.NOT_ATTEMPTED:
                        reason = check.outcome.value if check.hidden else (check.message.splitlines() or [""])[0]
                        tally.reasons[reason] = tally.reasons.get(reason, 0) + 1
        stats = [
            CheckStats(
                exercise,
                function,
                name,
                passed=t.passed,
                total=t.attempted + t.not_submitted + t.not_attempted,
                reasons=tuple(sorted(t.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]),
                hidden=t.hidden,
                attempted=t.attempted,
                not_submitted=t.not_submitted,
                not_attempted=t.not_attempted,
            )
            for (exercise, function, name), t in tallies.items()
        ]

        def hardest(s: CheckStats) -> tuple[bool, float, str, str]:
            rate = s.attempted_rate
            return (rate is None, rate or 0.0, s.exercise, s.name)

        return tuple(sorted(stats, key=hardest))

    def to_dict(self, *, students: bool = True) -> dict[str, Any]:
        """results.json's shape; ``students=False`` leaves an empty list where each student's ``to_dict`` goes.

        A writer that has every student's already encoded (``Report.result_json``) puts them there.
        """
        return {
            "schema_version": SCHEMA_VERSION,
            "assignment": self.assignment,
            "exercises": [{"name": n, "title": t} for n, t in self.exercise_titles.items()],
            "layout": self.layout,
            "layout_detected": self.layout_detected,
            "students": [r.to_dict(timings=False) for r in self.reports] if students else [],
            "unattributed": [item.to_dict() for item in self.unattributed],
            **({"clashes": list(self.clashes)} if self.clashes else {}),
            "similar": [cluster.to_dict() for cluster in self.similar],
            "checks": [s.to_dict() for s in self.check_stats()],
        }
