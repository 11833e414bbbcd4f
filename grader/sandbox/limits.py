"""Per-call resource limits for student code."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Limits applied to every worker; the time limits are per call (see ``budget.py``)."""

    #: The most time any call may get: the upper bound of every budget below.
    timeout_s: float = 5.0
    #: The time a call gets before it counts as hanging, unless the reference needs longer.
    budget_s: float = 1.0
    #: Address space allowed *above* the worker's baseline after importing torch.
    memory_mib: int = 1024
    #: Largest file the student's code may write (also caps its printed output file).
    file_size_mib: int = 64
    open_files: int = 256
    #: CPU seconds for a worker's whole life: a backstop behind each call's time budget (``budget.py``).
    cpu_s: int = 120
    #: Captured output kept per call; the rest is dropped and said to be dropped.
    output_bytes: int = 64 * 1024

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        return cls(**{k: type(getattr(cls, k))(v) for k, v in data.items() if k in cls.__dataclass_fields__})

    def overridden(self, *, timeout_s: float | None = None, memory_mib: int | None = None) -> Limits:
        """These limits with a command line's ``--timeout`` and ``--memory`` applied (None keeps the value)."""
        data = self.to_dict()
        if timeout_s is not None:
            data["timeout_s"] = timeout_s
        if memory_mib is not None:
            data["memory_mib"] = memory_mib
        return Limits.from_dict(data)

    def describe_memory(self) -> str:
        return f"{self.memory_mib / 1024:g} GiB" if self.memory_mib >= 1024 else f"{self.memory_mib} MiB"
