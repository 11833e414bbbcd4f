"""The worker: a forked child that locks itself down, then runs student code on request.

Runs in a child of the zygote. Everything up to ``_lock_down`` is trusted
code; after it, the student's modules are imported and their functions called.
Requests arrive pickled from the grader (trusted -> worker is allowed any
encoding); every answer leaves through ``codec.encode`` so the grader never
unpickles anything a student could have shaped.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import os
import random
import resource
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from grader import codec
from grader.sandbox import cells, isolation, privilege
from grader.sandbox import request as _request  # before Landlock: requests name its rebuilders
from grader.sandbox.limits import Limits
from grader.sandbox.loading import WORKER_NAMES, notice
from grader.sandbox.protocol import (
    WORKER_BROKEN_EXIT,
    ChannelClosed,
    FrameReader,
    pack_answer,
    recv_frame,
    send_frame,
)

#: Largest request the grader sends (student files plus pickled arguments).
MAX_REQUEST_BYTES = 64 * 1024 * 1024
SOURCE_DIR = "src"
OUTPUT_FILE = ".output"
#: What a student sees in place of their worker's scratch folder, whose name is random: two runs read the same.
SCRATCH_NAME = "<scratch>"
_SAFE_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: The arguments ``_Server._resolve`` may change: a module passed back by handle, and the containers that may hold one.
_HOLDERS = frozenset({codec.HandleRef, list, tuple, dict})
_HANDLE_REF = codec.HandleRef
#: The seed of every generator when a student's module is imported (``_Server._import``).
IMPORT_SEED = 0
_OOM_TEXT = ("can't allocate memory", "not enough memory", "out of memory", "DefaultCPUAllocator")


@dataclass(frozen=True)
class Setup:
    """What the zygote works out once, before its first fork, for every worker it forks."""

    #: What a worker may read (``zygote.readable_paths``).
    read_paths: tuple[str, ...]
    #: How to drop privilege (``privilege.plan``).
    identity: privilege.Plan
    #: The seccomp allowlist, assembled but for the worker's pid (``isolation.prepare_seccomp``).
    seccomp: isolation.SeccompFilter | None
    #: Whether inherited descriptors can be closed a range at a time (``libc.has_close_range``).
    close_range: bool


def run(
    sock: socket.socket,
    *,
    scratch: Path,
    limits: Limits,
    setup: Setup,
    parent: int,
    cpus: Sequence[int] = (),
    preloaded: _request.Preloaded | None = None,
) -> None:
    """Entry point in the forked child; never returns (always ``os._exit``).

    ``parent``: the zygote's pid, as the zygote read it before the fork, for ``_lock_down``
    to check. Read here, after it, a zygote that died in between would already have been
    replaced as the parent, and the worker would take its new parent for the zygote.
    ``cpus``: the CPUs of the grading process that asked for this worker (see ``client.allowed_cpus``).
    ``preloaded``: the session's planned requests, loaded by the zygote (``request.Preloaded``).
    """
    code = 0
    try:
        if cpus:
            with contextlib.suppress(OSError, ValueError):
                os.sched_setaffinity(0, cpus)
        output_fd = _prepare(sock, scratch=scratch, limits=limits, close_range=setup.close_range)
        layers = _lock_down(scratch=scratch, setup=setup, parent=parent)
        _Server(sock, scratch=scratch, limits=limits, output_fd=output_fd, layers=layers, preloaded=preloaded).serve()
    except BaseException:  # the worker must never fall back into the zygote's loop
        code = WORKER_BROKEN_EXIT
    os._exit(code)


def _prepare(sock: socket.socket, *, scratch: Path, limits: Limits, close_range: bool) -> int:
    """Session, descriptors, environment, scratch cwd, output capture and rlimits."""
    os.setsid()
    isolation.set_process_name("grader-worker")
    isolation.set_parent_death_signal(signal.SIGKILL)
    isolation.disable_huge_pages()  # a student's memory costs the same on every machine
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a too-big write fails with EFBIG, not death
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    _scrub_environment({**_SAFE_ENV, "HOME": str(scratch), "TMPDIR": str(scratch)})
    os.chdir(scratch)
    (scratch / SOURCE_DIR).mkdir(exist_ok=True)
    out = os.open(scratch / OUTPUT_FILE, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    _close_descriptors_but({0, 1, 2, out, sock.fileno()}, close_range=close_range)
    sys.stdin = io.TextIOWrapper(io.FileIO(0, "r", closefd=False), errors="replace")
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), errors="backslashreplace", write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), errors="backslashreplace", write_through=True)

    mib = 1024 * 1024
    baseline = _address_space()
    _limit(resource.RLIMIT_AS, baseline + limits.memory_mib * mib)
    _limit(resource.RLIMIT_CPU, limits.cpu_s, limits.cpu_s + 5)
    _limit(resource.RLIMIT_FSIZE, limits.file_size_mib * mib)
    _limit(resource.RLIMIT_NOFILE, limits.open_files)
    _limit(resource.RLIMIT_CORE, 0)
    return out


def _lock_down(*, scratch: Path, setup: Setup, parent: int) -> list[str]:
    layers = ["rlimits", "scratch-dir", "clean-env", "new-session"]
    privilege.close_original_namespace()
    identity = setup.identity
    if identity.identity is not None and (blocked := privilege.blockers([scratch], identity.identity)):
        # Student code never runs where the worker cannot write its files: uid 0 with no capabilities instead.
        identity = privilege.Plan(
            None, f"its scratch folder is beneath {blocked[0]}, which uid {identity.identity.uid} cannot traverse"
        )
    dropped, _ = privilege.drop(identity, owned=[scratch, scratch / SOURCE_DIR, scratch / OUTPUT_FILE])
    if dropped is None:
        raise RuntimeError("could not drop privileges")  # never run student code with them
    layers.append(f"{dropped} (uid {os.getuid()}, no capabilities)")
    # A change of credentials clears the parent-death signal: set it again, and leave if the zygote
    # has died since the fork (before either setting, the kernel never sends it: the worker has
    # another parent by now, which is why the zygote's pid comes from the zygote).
    isolation.set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:
        raise RuntimeError("the zygote died")
    landlock = isolation.apply_landlock(
        read_paths=[Path(p) for p in setup.read_paths],
        write_paths=[scratch],
        # /proc/cpuinfo: torch reads it on first use and prints an error without it.
        read_files=[Path("/dev/null"), Path("/dev/urandom"), Path("/dev/zero"), Path("/proc/cpuinfo")],
    )
    if landlock.active:
        layers.append("landlock")
    seccomp = isolation.apply_seccomp(setup.seccomp)
    if seccomp.active:
        allowed = setup.seccomp.allowed if setup.seccomp else isolation.allowlist_size()
        layers.append(f"seccomp allowlist ({allowed} calls)")
    return layers


def _seed(seed: int) -> None:
    """Seed every generator student code may draw from: before each call (its request's seed) and each import."""
    # Not torch.manual_seed: it also queues a lazy CUDA seeding call, with a formatted
    # stack trace, on every call when CUDA is not initialised.
    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


def _scrub_environment(wanted: dict[str, str]) -> None:
    """Make the environment exactly ``wanted``, touching only what differs (the zygote's is nearly it already)."""
    for key in [key for key in os.environ if key not in wanted]:
        del os.environ[key]
    for key, value in wanted.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def _close_descriptors_but(keep: set[int], *, close_range: bool) -> None:
    """Close every other descriptor the worker inherited.

    With ``close_range`` (``libc.has_close_range``, probed by the zygote), one
    call per gap between the kept ones, up to the soft limit, which the zygote
    shares and has never lowered (no descriptor of it is above). Without, the
    open ones are listed and closed one by one: a loop up to a soft limit of a
    million would cost a second per worker.
    """
    if close_range:
        low = 0
        for fd in [*sorted(keep), max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], max(keep) + 1)]:
            if fd > low:
                os.closerange(low, fd)
            low = fd + 1
        return
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _address_space() -> int:
    try:
        fd = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        try:
            return int(os.read(fd, 256).split()[0]) * resource.getpagesize()
        finally:
            os.close(fd)
    except (OSError, ValueError, IndexError):
        return 4 * 1024**3


def _limit(which: int, soft: int, hard: int | None = None) -> None:
    hard = soft if hard is None else hard
    try:
        _, current_hard = resource.getrlimit(which)
        if current_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, current_hard), min(hard, current_hard)
        resource.setrlimit(which, (soft, hard))
    except (ValueError, OSError):
        pass


class _Server:
    def __init__(
        self,
        sock: socket.socket,
        *,
        scratch: Path,
        limits: Limits,
        output_fd: int,
        layers: list[str],
        preloaded: _request.Preloaded | None = None,
    ) -> None:
        self.sock = sock
        self.preloaded = preloaded
        self.src = scratch / SOURCE_DIR
        self.scratch = str(scratch)
        self.limits = limits
        self.output_fd = output_fd
        self.layers = layers
        self.modules: dict[str, Any] = {}
        self.inbox = FrameReader(max_bytes=MAX_REQUEST_BYTES)
        # The zygote's heap stays frozen (gc.freeze): the student's new objects are
        # collected as usual, and a full collection never walks (and copies, page by
        # page) the millions of objects torch left behind.

    def serve(self) -> None:
        self._reply({"status": "ready", "layers": self.layers, "pid": os.getpid()})
        builtins.__import__ = _ImportMeter(self.sock, builtins.__import__)
        while True:
            try:
                frame = recv_frame(self.sock, self.inbox)
            except ChannelClosed:
                return
            request = self.preloaded.take(frame) if self.preloaded is not None else None
            if request is None:
                request = _request.load_request(frame)
            op = request.get("op")
            if op == "init":
                self._init(request["files"])
            elif op == "import":
                self._import(request["module"])
            elif op == "call":
                self._call(request, handles=_request.may_hold_handles(frame))
            elif op == "call_handle":
                self._call_handle(request)
            else:
                self._reply({"status": "bad_request"})

    # -- operations -------------------------------------------------------------

    def _init(self, names: list[str]) -> None:
        # Each file's bytes follow the request, a frame each (``Worker.init``). No student code
        # runs before the last is written: where src/ resolves to is read once, not once a file.
        src = self.src.resolve()
        for rel in names:
            data = recv_frame(self.sock, self.inbox)
            path = (self.src / rel).resolve()
            if src not in path.parents:
                continue
            if path.parent != src:
                path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        sys.path.insert(0, str(self.src))
        # The scratch folder is the notebook's folder, as the kernel's cwd is on a kernel's path:
        # a module a ``%%writefile`` cell wrote there is imported by a later cell.
        sys.path.insert(1, self.scratch)
        cells.configure(self.scratch)
        # Each worker imports the submission once, from a scratch folder deleted
        # afterwards: a .pyc would never be read, only written and then deleted.
        sys.dont_write_bytecode = True
        # No importlib.invalidate_caches(): re-listing the stdlib folder is denied by Landlock
        # (it is granted child by child around site-packages), and the new src path needs none.
        self._reply({"status": "ok"})

    def _import(self, name: str) -> None:
        self._clear_output()
        # A module that draws random numbers as it is imported draws the same ones on every run:
        # each process's generators otherwise start from a seed of its own (torch's too).
        _seed(IMPORT_SEED)
        try:
            self._load(name)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt at import are student data
            self._reply({**self._load_failure(name, exc), "stopped": self._stopped_cells()})
            return
        self._reply({"status": "ok", "output": self._take_output(), "stopped": self._stopped_cells()})

    def _stopped_cells(self) -> list[list[Any]]:
        """The notebook cells an error stopped during the import (``cells``), their messages without scratch paths.

        Student code could have reached the records too: whatever breaks here
        loses only the notes, never the answer (``cells.read_stops`` checks them).
        """
        try:
            return [[*stop[:3], self._stable(str(stop[3]))] for stop in cells.take()]
        except BaseException:
            return []

    def _load(self, name: str) -> Any:
        if name not in self.modules:
            self.modules[name] = importlib.import_module(name)
        return self.modules[name]

    def _call(self, request: dict[str, Any], *, handles: bool = True) -> None:
        """Call a function of an imported module; ``handles``: whether its arguments may hold a ``HandleRef``."""
        self._clear_output()
        module = self.modules.get(request["module"])
        if module is None:
            self._reply({"status": "load_failed", "message": "module not imported"})
            return
        function_name = request["function"]
        try:
            function = getattr(module, function_name)
        except BaseException:
            function = None
        if not callable(function):
            self._reply({"status": "missing", "output": self._take_output()})
            return
        if request.get("sequence"):
            function = _request.in_sequence(function)
        self._run(function, request, return_args=bool(request.get("return_args")), handles=handles)

    def _call_handle(self, request: dict[str, Any]) -> None:
        """Call a module this worker holds (``codec.held``), with the trusted side's state loaded first."""
        self._clear_output()
        try:
            codec.held(request["handle"])
        except KeyError:  # the grader never asks for a handle another worker made; a lying answer gets this
            self._reply({"status": "stale", "output": self._take_output()})
            return
        ref = codec.HandleRef(request["handle"], request["state"], bool(request["training"]))
        grad = bool(request.get("grad"))

        def call(*args: Any, **kwargs: Any) -> Any:
            module = self._resolve(ref)
            with torch.set_grad_enabled(grad):
                return module(*args, **kwargs)

        self._run(call, request, return_args=False)

    def _run(self, function: Any, request: dict[str, Any], *, return_args: bool, handles: bool = True) -> None:
        _seed(int(request["seed"]))
        try:
            args, kwargs = request["args"], request["kwargs"]
            # Walked for a module passed back by handle only where the request may hold one (``may_hold_handles``),
            # or where codec.HandleRef is no longer the class the walk was made for (replaced by student code).
            if (handles or codec.HandleRef is not _HANDLE_REF) and any(
                type(v) in _HOLDERS for v in (*args, *kwargs.values())
            ):  # not the common call's tensors and numbers
                args = tuple(self._resolve(a) for a in args)
                kwargs = {k: self._resolve(v) for k, v in kwargs.items()}
            value = function(*args, **kwargs)
        except BaseException as exc:
            self._reply(self._raised(exc))
            return
        payload: Any = (value, tuple(args), dict(kwargs)) if return_args else value
        # No duration: an answer is the same bytes every time the same call returns the same value.
        answer = {"status": "ok", "value": payload, "output": self._take_output()}
        self._reply(answer, value_may_fail=True)

    @staticmethod
    def _resolve(value: Any) -> Any:
        """A module passed back by handle becomes the object held here, with the trusted side's values."""
        if type(value) is codec.HandleRef:
            module = codec.held(value.handle)
            codec.load_state(module, value.state)
            if module.training != value.training:
                module.train(value.training)
            return module
        # A container without a handle is passed on as it came, so an argument given twice stays one object.
        if type(value) in (list, tuple):
            items = [_Server._resolve(v) for v in value]
            return value if all(a is b for a, b in zip(items, value, strict=True)) else type(value)(items)
        if type(value) is dict:
            resolved = {k: _Server._resolve(v) for k, v in value.items()}
            return value if all(resolved[k] is v for k, v in value.items()) else resolved
        return value

    # -- answers ----------------------------------------------------------------

    def _raised(self, exc: BaseException) -> dict[str, Any]:
        output = self._take_output()
        if isinstance(exc, NotImplementedError):
            return {"status": "not_implemented", "output": output}
        if isinstance(exc, MemoryError) or (
            isinstance(exc, RuntimeError) and any(t in _safe_str(exc) for t in _OOM_TEXT)
        ):
            return {"status": "oom", "output": output}
        return {
            "status": "raised",
            "type": type(exc).__qualname__[:200],
            "bases": [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"],
            "message": self._stable(_safe_str(exc)),
            "traceback": self._student_traceback(exc),
            "output": output,
        }

    def _load_failure(self, name: str, exc: BaseException) -> dict[str, Any]:
        if isinstance(exc, SystemExit):
            message = f"the module called sys.exit({exc.code!r:.50}) while being imported"
        elif isinstance(exc, SyntaxError):
            where = Path(exc.filename or "?").name
            message = f"SyntaxError: {exc.msg} ({where}, line {exc.lineno})"
        else:
            message = f"{type(exc).__qualname__[:200]}: {self._stable(_safe_str(exc))}"
        return {
            "status": "load_failed",
            "message": message,
            "traceback": self._student_traceback(exc),
            "output": self._take_output(),
        }

    def _student_traceback(self, exc: BaseException) -> str:
        """Only the frames of the student's own files, with paths relative to the submission."""
        src = str(self.src) + os.sep
        try:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(src)]
            lines = [
                f'  File "{f.filename[len(src) :]}", line {f.lineno}, in {f.name}\n    {f.line or ""}'
                for f in frames[-8:]
            ]
            return "\n".join(lines)[:4000]
        except BaseException:
            return ""

    def _reply(self, answer: dict[str, Any], *, value_may_fail: bool = False) -> None:
        value = b""
        if "value" in answer:
            try:
                value = codec.encode(answer.pop("value"))
            except codec.Unsupported as exc:
                if not value_may_fail:
                    raise
                answer = {"status": "unsupported", "message": str(exc), "output": self._take_output()}
            except BaseException as exc:  # a student's object broke while being read
                answer = {"status": "unsupported", "message": f"the value could not be read: {_safe_str(exc)}"}
        send_frame(self.sock, pack_answer(answer, value))

    def _stable(self, text: str) -> str:
        """``text`` without the scratch folder's random name: a submission's files by their own path.

        A warning or an error names the file it came from (``.../w-x1y2/src/ex.py:3: UserWarning``);
        with the random name, two runs of the same submission would not give the same report.
        """
        if self.scratch not in text:
            return text
        return text.replace(str(self.src) + os.sep, "").replace(self.scratch, SCRATCH_NAME)

    # -- captured output ----------------------------------------------------------

    def _flush(self) -> None:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()  # type: ignore[union-attr]
            except BaseException:
                pass

    def _clear_output(self) -> None:
        self._flush()
        try:  # not contextlib.suppress: its object and two calls cost about as much as the fstat
            if os.fstat(self.output_fd).st_size:
                os.ftruncate(self.output_fd, 0)
        except OSError:
            pass

    def _take_output(self) -> str:
        self._flush()
        try:
            size = os.fstat(self.output_fd).st_size
            if not size:  # the common case: one syscall, no read
                return ""
            data = os.pread(self.output_fd, self.limits.output_bytes, 0)
        except OSError:
            return ""
        text = self._stable(data.decode("utf-8", errors="backslashreplace"))
        if size > len(data):
            text += f"\n... [{size - len(data)} more bytes of output not shown]"
        return text


class _ImportMeter:
    """``__import__`` that names each module a call starts loading, once, before it loads (see ``loading.py``).

    Only the outermost cold import is named (loading it loads the rest); a
    warm one (the module already loaded) costs one dict lookup. Student code
    can forge or drop these notices: the grader only ever loads the modules
    named in a fresh worker and runs the call again on the same budget.
    """

    __slots__ = ("_depth", "_named", "_original", "_sock", "_thread")

    def __init__(self, sock: socket.socket, original: Any) -> None:
        self._sock = sock
        self._original = original
        self._depth = 0
        self._named: set[str] = set()
        # Only the thread that answers the grader reports: two threads writing frames could interleave them.
        self._thread = threading.get_ident()

    def __call__(self, name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if self._depth or level or threading.get_ident() != self._thread or not _cold(name, fromlist):
            return self._original(name, globals, locals, fromlist, level)
        if type(name) is str and name not in self._named and len(self._named) < WORKER_NAMES:
            self._named.add(name)
            with contextlib.suppress(OSError):
                send_frame(self._sock, notice(name))
        self._depth = 1
        try:
            return self._original(name, globals, locals, fromlist, level)
        finally:
            self._depth = 0


def _cold(name: str, fromlist: Any) -> bool:
    """Whether importing ``name`` (and the names of ``fromlist``) would load a module."""
    module = sys.modules.get(name)
    if module is None:
        return True
    if not fromlist:
        return False
    return any(type(f) is str and f != "*" and not hasattr(module, f) for f in fromlist)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except BaseException:
        return f"<{type(exc).__qualname__[:200]} with an unprintable message>"
