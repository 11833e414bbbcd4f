"""Grader failures: each error knows its exit code and how to show itself.

Student failures are *not* here: they are data (see ``models.Outcome``).
These are the problems of the person running the grader (a bad path, a bad
option, a broken assignment) or of the grader itself.
"""

from __future__ import annotations


class GraderError(Exception):
    """Base of every error the CLI turns into a message and an exit code."""

    exit_code = 3
    label = "grader error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return f"{self.label}: {self.message}"


class UsageError(GraderError):
    """The command line or a path given on it is wrong."""

    exit_code = 2
    label = "usage error"


class SubmissionError(UsageError):
    """A submission given to ``grader check`` cannot be read at all."""

    label = "cannot read submission"


class AssignmentError(GraderError):
    """The assignment folder is missing or broken (a teacher's problem)."""

    exit_code = 4
    label = "assignment error"


class SandboxError(GraderError):
    """The sandbox itself failed (not the student's code): zygote won't start."""

    exit_code = 5
    label = "sandbox error"


class IncompleteError(SandboxError):
    """Some students could not be graded: a helper process died of something that was not their doing.

    Nothing is recorded for them (no cache entry, no report); a re-run grades them.
    """

    exit_code = 7
    label = "grading incomplete"


class HelperLost(IncompleteError):
    """A helper process (the zygote, a grading process, a worker) died mid-grading, and not by the student's code."""


class OutputLocked(GraderError):
    """Another run is writing to the same output folder."""

    exit_code = 8
    label = "output folder in use"


class OutputError(GraderError):
    """A report could not be written (disk full, read-only, bad path)."""

    exit_code = 6
    label = "cannot write output"


class ScoreBelowThreshold(GraderError):
    """Grading completed but the score is under ``--fail-under``."""

    exit_code = 1
    label = "score below threshold"


#: Exit codes, documented once for ``--help`` and the README.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "grading completed (whatever the score)"),
    (ScoreBelowThreshold.exit_code, "score below --fail-under"),
    (UsageError.exit_code, "usage error: bad option, missing or unreadable path"),
    (GraderError.exit_code, "internal grader error (a bug: please report it)"),
    (AssignmentError.exit_code, "the assignment (exercises, solutions, checks) is broken"),
    (SandboxError.exit_code, "the sandbox could not start"),
    (OutputError.exit_code, "an output file could not be written"),
    (IncompleteError.exit_code, "grading incomplete: a helper process died; those students were not graded, run again"),
    (OutputLocked.exit_code, "another run is writing to the same --out folder"),
)
