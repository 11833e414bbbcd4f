"""The grader's side of the sandbox: the zygote handle, workers, and per-submission runners."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from grader import codec
from grader.errors import SandboxError
from grader.sandbox.limits import Limits
from grader.sandbox.protocol import (
    WORKER_BROKEN_EXIT,
    BadAnswer,
    ChannelClosed,
    pack_request,
    recv_exact,
    send_frame,
    unpack_answer,
)

#: How long a cold zygote may take to import torch (first start on a slow disk).
ZYGOTE_START_TIMEOUT_S = 180.0
#: How long a freshly forked worker may take to lock itself down and say ready.
WORKER_READY_TIMEOUT_S = 30.0
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


class WorkerTimeout(Exception):
    """The worker did not answer within its wall-clock limit."""


class WorkerDied(Exception):
    """The worker's channel closed: it crashed, exited, or was killed."""

    def __init__(self, status: int | None) -> None:
        super().__init__(status)
        self.status = status


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

    def start(self) -> Zygote:
        process, (control,) = _spawn(1)
        self._proc = process
        self._attach(control, process)
        return self

    @classmethod
    def start_shared(cls, count: int) -> tuple[ZygoteProcess, list[Zygote]]:
        """One zygote process serving ``count`` clients, one per grading process.

        Each client is meant to be inherited by one forked grading process; none
        owns the process (the returned handle does), so closing a client only
        closes its channel. A client whose shared zygote dies starts a private one.
        """
        process, controls = _spawn(count)
        clients = []
        for control in controls:
            client = cls()
            client._attach(control, process)
            clients.append(client)
        return process, clients

    def _attach(self, control: socket.socket, process: ZygoteProcess) -> None:
        self._control = control
        self._buffer = b""
        self._ready = False
        self._origin = process

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
                    {"op": "fork", "scratch": str(scratch), "limits": limits.to_dict()}, [theirs.fileno()]
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

    def reap(self, pid: int) -> int | None:
        """Wait for a worker that has been killed or has exited; return its wait status."""
        try:
            answer = self._request({"op": "wait", "pid": pid})
        except (ChannelClosed, OSError, SandboxError):
            return None
        status = answer.get("status")
        return int(status) if isinstance(status, int) else None

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
    stderr_log = tempfile.TemporaryFile()  # noqa: SIM115 - ZygoteProcess.stop closes it
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-m", ZYGOTE_MODULE, *map(str, theirs)],
            pass_fds=theirs,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr_log,
            env=_ZYGOTE_ENV,
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


class Worker:
    """One sandboxed worker process, reached through its socket."""

    def __init__(self, zygote: Zygote, *, scratch_root: Path, limits: Limits) -> None:
        self.zygote = zygote
        self.limits = limits
        self.scratch = Path(tempfile.mkdtemp(prefix="w-", dir=scratch_root))
        self.pid, self.sock = zygote.fork(scratch=self.scratch, limits=limits)
        self.status: int | None = None
        self.closed = False
        try:
            hello = self.request({"op": "hello"}, timeout_s=WORKER_READY_TIMEOUT_S, send=False)
        except (WorkerDied, WorkerTimeout):
            self.close()
            raise SandboxError("a sandbox worker failed to start") from None
        self.layers = tuple(str(x) for x in hello.get("layers", ()))

    def request(self, message: Mapping[str, Any], *, timeout_s: float, send: bool = True) -> dict[str, Any]:
        """Send a request and wait for the answer; kill the worker if it overruns."""
        deadline = time.monotonic() + timeout_s
        try:
            if send:
                self.sock.settimeout(timeout_s)
                send_frame(self.sock, pack_request(dict(message)))
            header = self._recv(8, deadline)
            size = int.from_bytes(header, "big")
            if size > codec.MAX_MESSAGE_BYTES:
                self.kill()
                raise WorkerDied(None)
            frame = self._recv(size, deadline)
        except TimeoutError:
            self.kill()
            raise WorkerTimeout from None
        except (ChannelClosed, OSError):
            self.kill()
            raise WorkerDied(self.status) from None
        try:
            answer, value = unpack_answer(frame)
            if value:
                answer["value"] = codec.decode(value)
        except (BadAnswer, codec.DecodeError):
            self.kill()
            raise WorkerDied(self.status) from None
        return answer

    def _recv(self, size: int, deadline: float) -> bytes:
        # Read in 1 MiB pieces, each with the time left at its start, so a worker
        # that trickles bytes cannot stretch the call past its deadline.
        chunks = bytearray()
        while len(chunks) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self.sock.settimeout(remaining)
            chunks += recv_exact(self.sock, min(size - len(chunks), 1 << 20))
        return bytes(chunks)

    def kill(self) -> None:
        """Kill and reap the worker, keeping its wait status; idempotent."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.sock.close()
        self.status = self.zygote.reap(self.pid)
        _remove_tree(self.scratch)

    close = kill


def _remove_tree(path: Path) -> None:
    def make_writable(function: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            function(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable)


@dataclass(frozen=True)
class CallResult:
    """What came of calling one student function (plain data, no student objects)."""

    status: str  # ok raised not_implemented missing unsupported load_failed timeout crashed oom
    value: Any = None
    message: str = ""
    type_name: str = ""
    bases: tuple[str, ...] = ()
    traceback: str = ""
    output: str = ""
    duration_s: float = 0.0


def describe_exit(status: int | None, limits: Limits) -> str:
    """A sentence a student understands for how their worker died."""
    if status is None:
        return "crashed: the process stopped answering"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGSEGV:
            return "crashed: segmentation fault (invalid memory access)"
        if sig == signal.SIGXCPU:
            return f"used more than its CPU time limit ({limits.cpu_s} s)"
        if sig == signal.SIGABRT:
            return "crashed: aborted"
        if sig == signal.SIGBUS:
            return "crashed: bus error"
        if sig == signal.SIGKILL:
            # The grader's own kills are reported as timeouts before this is reached.
            return (
                f"was killed (SIGKILL): it ran out of memory (limit {limits.describe_memory()}) "
                "or killed its own process"
            )
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return f"crashed: killed by {name}"
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == WORKER_BROKEN_EXIT:
            return (
                "broke the sandbox process it ran in (for example by closing its file descriptors "
                "or replacing builtins), so its answer could not be sent back"
            )
        return f"ended the grading process itself (exit code {code}, e.g. os._exit or sys.exit)"
    return "crashed"


@dataclass
class SubmissionRunner:
    """Runs one submission's functions, each call in a sandboxed worker.

    A worker serves calls until one hangs or crashes; then a fresh worker is
    forked for the next call. A module that fails to import is remembered, so
    every check of it fails quickly and identically.
    """

    zygote: Zygote
    files: Mapping[str, bytes]
    limits: Limits
    scratch_root: Path
    _worker: Worker | None = None
    _imported: set[str] = field(default_factory=set)
    _load_failures: dict[str, CallResult] = field(default_factory=dict)
    layers: tuple[str, ...] = ()

    def call(
        self,
        module: str,
        function: str,
        args: tuple[Any, ...] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        seed: int,
        return_args: bool = False,
        timeout_s: float | None = None,
    ) -> CallResult:
        timeout = self.limits.timeout_s if timeout_s is None else timeout_s
        if module in self._load_failures:
            return self._load_failures[module]
        worker = self._ensure_worker()
        if module not in self._imported:
            failure = self._import(worker, module, timeout)
            if failure is not None:
                self._load_failures[module] = failure
                return failure
        request: dict[str, Any] = {
            "op": "call",
            "module": module,
            "function": function,
            "seed": seed,
            "return_args": return_args,
            "args": tuple(args),
            "kwargs": dict(kwargs or {}),
        }
        started = time.perf_counter()
        try:
            answer = worker.request(request, timeout_s=timeout)
        except WorkerTimeout:
            self._discard()
            return CallResult("timeout", message=f"timed out after {timeout:g} s", duration_s=timeout)
        except WorkerDied:
            status = worker.status
            self._discard()
            return CallResult(
                "crashed", message=describe_exit(status, self.limits), duration_s=time.perf_counter() - started
            )
        return _result(answer, self.limits, time.perf_counter() - started)

    def _import(self, worker: Worker, module: str, timeout: float) -> CallResult | None:
        try:
            answer = worker.request({"op": "import", "module": module}, timeout_s=timeout)
        except WorkerTimeout:
            self._discard()
            return CallResult("load_failed", message=f"importing {module} timed out after {timeout:g} s")
        except WorkerDied:
            status = worker.status
            self._discard()
            return CallResult("load_failed", message=f"importing {module} {describe_exit(status, self.limits)}")
        if answer["status"] != "ok":
            return CallResult(
                "load_failed",
                message=str(answer.get("message", "")),
                traceback=str(answer.get("traceback", "")),
                output=str(answer.get("output", "")),
            )
        self._imported.add(module)
        return None

    def _ensure_worker(self) -> Worker:
        if self._worker is None:
            worker = Worker(self.zygote, scratch_root=self.scratch_root, limits=self.limits)
            self.layers = worker.layers
            try:
                answer = worker.request({"op": "init", "files": dict(self.files)}, timeout_s=WORKER_READY_TIMEOUT_S)
            except (WorkerTimeout, WorkerDied):
                worker.kill()
                raise SandboxError("a sandbox worker could not receive the submission") from None
            if answer["status"] != "ok":
                worker.kill()
                raise SandboxError("a sandbox worker refused the submission")
            self._worker = worker
            self._imported = set()
        return self._worker

    def _discard(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
            self._imported = set()

    def close(self) -> None:
        self._discard()


def _result(answer: dict[str, Any], limits: Limits, duration: float) -> CallResult:
    status = answer["status"]
    output = str(answer.get("output", ""))
    if status == "oom":
        return CallResult("oom", message=f"ran out of memory (limit {limits.describe_memory()})", output=output)
    if status == "raised":
        bases = answer.get("bases")
        return CallResult(
            "raised",
            message=str(answer.get("message", "")),
            type_name=str(answer.get("type", "Exception")),
            bases=tuple(str(b) for b in bases) if isinstance(bases, list) else (),
            traceback=str(answer.get("traceback", "")),
            output=output,
            duration_s=duration,
        )
    if status in ("ok", "not_implemented", "missing", "unsupported"):
        return CallResult(
            status,
            value=answer.get("value"),
            message=str(answer.get("message", "")),
            output=output,
            duration_s=duration,
        )
    return CallResult("crashed", message="crashed: the worker sent an answer the grader does not understand")
