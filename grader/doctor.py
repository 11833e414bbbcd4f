"""``grader doctor``: which isolation layers hold on this machine, in plain words."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.sandbox.isolation import LayerStatus, probe
from grader.student_copy import open_assignment

#: What each layer stops, for a reader who does not know the kernel feature's name.
_MEANING = {
    "rlimits": "caps each worker's memory, CPU time, file sizes and open files",
    "landlock": "stops student code reading the answer key or other students' files, and writing outside "
    "its scratch folder",
    "landlock-network": "stops student code opening TCP connections (exfiltration, downloads)",
    "landlock-scoping": "stops student code signalling the grader or other processes",
    "identity": "runs student code as an unprivileged uid with no capabilities, even when the grader is root",
    "seccomp": "allows only the system calls a worker needs: no processes, sockets, tracing, file metadata "
    "changes, host name or clock, and no touching other processes",
}


@dataclass(frozen=True)
class Diagnosis:
    layers: tuple[LayerStatus, ...]

    @property
    def fully_isolated(self) -> bool:
        return all(layer.active for layer in self.layers)

    def verdict(self) -> str:
        if self.fully_isolated:
            return (
                "Every isolation layer is active: hostile submissions are contained on this machine "
                "(timeouts and memory limits always apply, whatever this says)."
            )
        missing = [layer.name for layer in self.layers if not layer.active]
        return (
            f"Not every layer is active ({', '.join(missing)}). Timeouts, memory limits, the separate "
            "worker process and the pickle-free codec still hold, so a submission cannot choose its own "
            "verdict; but without the missing layers a hostile submission may "
            + "; ".join(_risk(name) for name in missing)
            + ". Grade untrusted work on a machine where `grader doctor` shows every layer active, "
            "or inside a container or VM."
        )


def _risk(name: str) -> str:
    return {
        "landlock": "read files the grader's user can read (including the answer key) and write outside "
        "its scratch folder",
        "landlock-network": "reach the network over TCP",
        "landlock-scoping": "send signals to other processes of the same user",
        "identity": "use root's privileges: change the host name, any file's owner and mode, other processes' priority",
        "seccomp": "start processes, open sockets, trace other processes and change file metadata",
        "rlimits": "exhaust memory or disk",
    }.get(name, f"bypass {name}")


def diagnose() -> Diagnosis:
    """Apply and attack each layer in a throwaway child process, so the answer is measured, not assumed."""
    return Diagnosis(tuple(probe()))


def meaning(layer: str) -> str:
    return _MEANING.get(layer, "")


def describe_assignment(near: Path) -> str:
    """What ``grader check`` run here would grade against, in a line: a student's copy or the full assignment."""
    try:
        assignment = open_assignment(None, near=near)
    except GraderError as exc:
        return f"none usable here ({exc.message})"
    copy = assignment.copy
    if copy is None:
        return (
            f"{assignment.title} (fingerprint {assignment.fingerprint()[:12]}), the full assignment at "
            f"{assignment.root}: reference solutions and hidden checks present, as in the teacher's grade"
        )
    return f"{copy.summary(assignment.title)}; read from {copy.path}"
