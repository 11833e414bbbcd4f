"""The grader's handle on the sandbox's zygote: start it, ask it to fork, reap what it forked.

No torch here: a batch's parent process uses this module only to start the
zygote and have it fork the first grading process, and never imports torch itself.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from grader.errors import SandboxError
from grader.sandbox import privilege
from grader.sandbox.death import Exit
from grader.sandbox.limits import Limits
from grader.sandbox.protocol import MAX_ENGINES, ChannelClosed, framed

#: How long a cold zygote may take to import torch (first start on a slow disk).
ZYGOTE_START_TIMEOUT_S = 180.0
#: What the zygote process runs (``python -I -m ZYGOTE_MODULE``).
ZYGOTE_MODULE = "grader.sandbox.zygote"
_ZYGOTE_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    # numpy's OpenBLAS otherwise starts a spinning thread per core in the zygote
    # and, after every fork, in each worker that touches it.
    "OPENBLAS_NUM_THREADS": "1",
    # malloc's heap on transparent huge pages where the kernel allows it: the
    # zygote's page tables shrink, and each fork copies (and each worker's exit
    # tears down) fewer of them. 2 ms of CPU less per student; ignored elsewhere.
    "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
    "PYTHONHASHSEED": "0",
}


class Zygote:
    """A warm fork server. Start it early: it imports torch while the grader does."""

    def __init__(self) -> None:
        #: The process, when this client owns it (a private zygote).
        self._proc: ZygoteProcess | None = None
        #: The process behind the channel, owned or shared: read for its last words.
        self._origin: ZygoteProcess | None = None
        self._control: socket.socket | None = None
        self._buffer = b""
        self._ready = False
        #: How many zygote channels this client has been attached to: a worker forked by an earlier one died with it.
        self.generation = 0

    def start(self) -> Zygote:
        process, (control,) = _spawn(1)
        self._proc = process
        self._attach(control, process)
        return self

    @property
    def pid(self) -> int | None:
        """The zygote process's pid, when this client started it."""
        return self._proc.pid if self._proc else None

    @classmethod
    def adopt(cls, control: socket.socket) -> Zygote:
        """A client on a control channel this process was given at birth (a grading process of a batch).

        It owns no process: closing it closes the channel. If the zygote dies,
        the client starts a private one.
        """
        client = cls()
        client._attach(control, None)
        return client

    def _attach(self, control: socket.socket, process: ZygoteProcess | None) -> None:
        self._control = control
        self._buffer = b""
        self._ready = False
        self._origin = process
        self.generation += 1

    def _line(self, timeout_s: float) -> dict[str, Any]:
        assert self._control is not None
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SandboxError("the sandbox's zygote did not answer in time")
            self._control.settimeout(remaining)
            try:
                chunk = self._control.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                chunk = b""
            if not chunk:
                raise ChannelClosed
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise SandboxError("the zygote sent a malformed answer")
        return answer

    def _ensure_ready(self) -> None:
        if self._control is None:
            self.start()
        if not self._ready:
            try:
                self._line(ZYGOTE_START_TIMEOUT_S)  # the "ready" hello
            except ChannelClosed:
                code = self._proc.wait() if self._proc else None
                why = (self._origin.last_words() if self._origin else "") or "no message"
                status = "" if code is None else f", exit status {code}"
                raise SandboxError(
                    f"the sandbox's zygote exited during start-up ({why}{status}); "
                    "check that `python -I -m grader.sandbox.zygote` runs and can import torch"
                ) from None
            self._ready = True

    def _request(self, request: dict[str, Any], fds: list[int] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        self._ensure_ready()
        assert self._control is not None
        self._control.settimeout(None)
        socket.send_fds(self._control, [json.dumps(request).encode()], list(fds))
        return self._line(60.0)

    def fork(self, *, scratch: Path, limits: Limits) -> tuple[int, socket.socket]:
        """Fork a worker that lives in ``scratch``; return its pid and its channel.

        A dead zygote (killed, crashed) is restarted once, transparently.
        """
        for attempt in (1, 2):
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                answer = self._request(
                    {"op": "fork", "scratch": str(scratch), "limits": limits.to_dict(), "cpus": allowed_cpus()},
                    [theirs.fileno()],
                )
            except (ChannelClosed, OSError, SandboxError) as exc:
                ours.close()
                if attempt == 2:
                    detail = f": {exc.message}" if isinstance(exc, SandboxError) else ""
                    raise SandboxError(f"the sandbox's zygote died and could not be restarted{detail}") from None
                self.close()
                self.start()
                continue
            finally:
                theirs.close()
            if "pid" not in answer:
                ours.close()
                raise SandboxError(f"the zygote refused to fork: {answer.get('error')}")
            return int(answer["pid"]), ours
        raise AssertionError("unreachable")

    def preload(self, requests: Sequence[bytes]) -> int:
        """Have the zygote load a session's planned requests once, for every worker it forks from now on.

        Each worker then takes its planned requests already loaded
        (``request.Preloaded``). The requests go in an anonymous file, whose
        descriptor the zygote reads and closes. Returns how many it holds; 0
        where it could not load them (each worker then loads its own, as it
        always can): nothing fails for want of this.
        """
        try:
            fd = os.memfd_create("grader-plan", os.MFD_CLOEXEC)
        except (AttributeError, OSError):
            return 0
        try:
            with open(fd, "wb", closefd=False) as plan:
                for request in requests:
                    plan.write(framed(request))
            answer = self._request({"op": "preload"}, [fd])
        except (ChannelClosed, OSError, SandboxError, ValueError):
            return 0
        finally:
            os.close(fd)
        count = answer.get("preloaded")
        return count if isinstance(count, int) else 0

    def fork_engines(self, channels: Sequence[socket.socket]) -> int:
        """Have the zygote fork grading processes that serve ``grader.engine``, one on each channel; the first's pid.

        The zygote forks the first, torch-warm, without this process importing
        torch: a batch's parent never does. It loads the checks and solutions
        itself, after the fork, so the zygote never sees them, and forks the
        others once it has (``engine.serve``): they are its children, and all
        are in its process group, whose id is the pid returned. Each has its
        end of its channel and a control channel to the zygote of its own.
        """
        if not 1 <= len(channels) <= MAX_ENGINES:
            raise SandboxError(f"one zygote starts 1 to {MAX_ENGINES} grading processes, not {len(channels)}")
        try:
            answer = self._request({"op": "engine", "engines": len(channels)}, [c.fileno() for c in channels])
        except (ChannelClosed, OSError):
            why = (self._origin.last_words() if self._origin else "") or "no message"
            raise SandboxError(f"the sandbox's zygote died ({why})") from None
        if "pid" not in answer:
            raise SandboxError(f"the zygote refused to start grading processes: {answer.get('error')}")
        return int(answer["pid"])

    def reap(self, pid: int, *, generation: int | None = None, started_kib: int | None = None) -> Exit:
        """Wait for a worker that has been killed or has exited; what its death looked like.

        A zygote that cannot answer (killed, crashed) says so: its workers died
        with it. So does one replaced since ``generation``, the zygote's that forked it.
        ``started_kib``: the worker's resident memory when it was ready, before any student
        code ran (``runner.Worker``): how far it grew is its peak past that. Without it, past
        the zygote's own resident memory, which also holds pages a worker never maps.
        """
        if generation is not None and generation != self.generation:
            return Exit(zygote_lost=True)
        try:
            answer = self._request({"op": "wait", "pid": pid})
        except (ChannelClosed, OSError, SandboxError, ValueError):
            return Exit(zygote_lost=True)
        status, cpu_s, grew_kib = answer.get("status"), answer.get("cpu_s"), answer.get("grew_kib")
        peak_kib = answer.get("peak_kib")
        if type(peak_kib) is int and type(started_kib) is int:
            grew_kib = max(0, peak_kib - started_kib)
        return Exit(
            status=status if isinstance(status, int) else None,
            cpu_s=float(cpu_s) if isinstance(cpu_s, int | float) else 0.0,
            grew_mib=grew_kib / 1024 if isinstance(grew_kib, int) else 0.0,
        )

    def close(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._proc is not None:
            self._proc.stop()
            self._proc = None
        self._ready = False

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def allowed_cpus() -> list[int]:
    """The CPUs this process may run on; a worker gets those of the process that asks for it.

    A batch pins each grading process to one CPU: every call is a round
    trip between it and its worker, and on a shared CPU each hand-over is a
    plain context switch instead of a cross-CPU wake-up (about eight times
    cheaper on a VM, measured).
    """
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


@dataclass
class ZygoteProcess:
    """A zygote process and the unnamed file its stderr goes to.

    The file is read only to explain a failed start-up; workers close it on
    lock-down, so student code can neither fill nor read it.
    """

    popen: subprocess.Popen[bytes]
    log: IO[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def kill(self) -> None:
        self.popen.kill()

    def wait(self) -> int:
        return self.popen.wait()

    def stop(self) -> None:
        """Kill and reap the zygote (which kills its workers) and close its log."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()
        self.log.close()

    def last_words(self, limit: int = 64 * 1024) -> str:
        """The last non-empty line it wrote to stderr (its exception, if it died of one)."""
        try:
            size = os.fstat(self.log.fileno()).st_size
            data = os.pread(self.log.fileno(), limit, max(0, size - limit))
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""


def _spawn(count: int) -> tuple[ZygoteProcess, list[socket.socket]]:
    """Start a zygote process with ``count`` control channels."""
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(count)]
    theirs = [pair[1].fileno() for pair in pairs]
    try:
        env = _zygote_env()
    except ValueError as exc:
        for pair in pairs:
            pair[0].close()
            pair[1].close()
        raise SandboxError(str(exc)) from None
    stderr_log = tempfile.TemporaryFile()  # noqa: SIM115 - ZygoteProcess.stop closes it
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-m", ZYGOTE_MODULE, *map(str, theirs)],
            pass_fds=theirs,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_log,
            env=env,
            cwd=tempfile.gettempdir(),
            start_new_session=True,
        )
    except OSError as exc:
        for pair in pairs:
            pair[0].close()
        stderr_log.close()
        raise SandboxError(f"cannot start the sandbox's zygote process: {exc}") from None
    finally:
        for pair in pairs:
            pair[1].close()
    return ZygoteProcess(proc, stderr_log), [pair[0] for pair in pairs]


def _zygote_env() -> dict[str, str]:
    """The zygote's fixed environment, plus the worker identity when one is configured (checked here, early)."""
    configured = os.environ.get(privilege.ENVIRONMENT_VARIABLE, "").strip()
    if not configured:
        return dict(_ZYGOTE_ENV)
    privilege.configured_identity(os.environ)  # a bad value is the teacher's error, said before any grading
    return {**_ZYGOTE_ENV, privilege.ENVIRONMENT_VARIABLE: configured}
