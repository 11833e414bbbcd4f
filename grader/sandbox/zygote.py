"""The zygote: a warm process that has imported torch and nothing of the answer key.

Started as a fresh interpreter (``python -I -m grader.sandbox.zygote``) before
the grader loads any solution, so no expected value ever sits in its heap for
a worker to find. It serves fork requests on control sockets: each request
carries one end of a fresh socket pair, which becomes the new worker's only
channel to the grader. ``torch.set_num_threads(1)`` (and one inter-op
thread) keeps forked children from hanging on a half-initialised thread
pool: the ops the zygote runs once to warm its workers (``warm``) start no
thread.

Once a grading session has recorded its checks' plans, it sends the zygote
their requests (``Zygote.preload``): the zygote loads them once, and each
worker it forks from then on finds its planned calls' arguments already
rebuilt (``request.Preloaded``): each planned call's request, the bytes the
worker of every student graded on that exercise is sent, never the
reference's answer to it, which stays in the grading process.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import select
import signal
import socket
import sys
import sysconfig
from pathlib import Path
from typing import Any

import torch

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
# torch's CPU detection (cpuinfo: /proc/cpuinfo and sysfs parsed, no thread, no op) done once here,
# not at every worker's first tensor operation: 0.3-0.6 ms of CPU per worker.
torch.backends.cpu.get_cpu_capability()

# Warm for every worker: what students import, and what each call touches.
# numpy.random: every call seeds it, and its lazy import cost 16 ms per worker.
# Not torch._dynamo (0.8 s, and a bigger heap for every fork to map): ordinary
# student code never imports it, and the codec rebuilds modules without it.
import numpy  # noqa: E402
import numpy.random  # noqa: E402,F401
import torch.nn.functional  # noqa: E402
import torch.optim  # noqa: E402
import torch.utils._device  # noqa: E402  (the codec's meta-device rebuild of a module)

from grader.sandbox import isolation, libc, memory, privilege, warm, worker  # noqa: E402
from grader.sandbox.limits import Limits  # noqa: E402
from grader.sandbox.protocol import MAX_ENGINES, WORKER_BROKEN_EXIT  # noqa: E402
from grader.sandbox.request import MAX_PRELOAD_BYTES, Preloaded, PreloadError, plan_digest  # noqa: E402

MAX_CONTROL_BYTES = 64 * 1024


def readable_paths() -> list[str]:
    """What a worker may read: Python, site-packages except the grader itself, system libraries.

    Landlock grants whole trees and cannot carve a hole, so a tree holding
    the grader package (which in a wheel install carries the bundled
    assignment) is granted child by child around it.
    """
    scheme = sysconfig.get_paths()
    own = Path(__file__).resolve().parents[1]
    roots = {scheme["stdlib"], scheme["platstdlib"], scheme["purelib"], scheme["platlib"]}
    roots |= {p for p in sys.path if p and "site-packages" in p}
    roots |= {"/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/etc/ld.so.cache"}

    # Only the grader package itself is withheld: installed from a wheel it carries
    # the bundled assignment. Its metadata and an editable install's path hooks
    # hold no secret, and splitting site-packages around them would cost a
    # Landlock rule per package in every worker.
    forbidden_paths = {own}

    granted: set[str] = set()

    def grant(path: Path) -> None:
        if path in forbidden_paths or not path.exists():
            return
        if path.is_dir() and not path.is_symlink() and any(f.is_relative_to(path) for f in forbidden_paths):
            for child in path.iterdir():
                grant(child)
        else:
            granted.add(str(path))

    for root in roots:
        grant(Path(root).resolve())
    return sorted(granted)


def serve(controls: list[socket.socket]) -> None:
    """Answer requests on ``controls`` until every channel is closed.

    The channels given at start-up belong to the grader's main process: only
    they may ask for grading processes (``engine``). Each grading process gets
    a control channel of its own, for its workers.
    """
    read_paths = readable_paths()
    setup = worker.Setup(
        read_paths=tuple(read_paths),
        identity=privilege.plan(read_paths, temp=os.getcwd()),  # started in the grader's temporary folder
        seccomp=isolation.prepare_seccomp(group_leader=True),  # a worker leads its own session
        close_range=libc.has_close_range(),
    )
    warm.warm()  # each worker inherits torch's first-use state and specialised bytecode, not makes them again
    gc.collect()
    gc.freeze()  # fork copies fewer pages when the parent's objects are frozen
    forks = memory.ForkCounter()  # a class being graded: its memory on huge pages (see memory.py)
    plan = _Plan()  # the planned requests of the session being graded, loaded once for every worker
    hello = (json.dumps(_hello()) + "\n").encode()
    for control in controls:
        control.sendall(hello)
    admins = set(controls)
    live = list(controls)
    while live:
        ready, _, _ = select.select(live, [], [])
        for control in ready:
            try:
                message, fds, _, _ = socket.recv_fds(control, MAX_CONTROL_BYTES, MAX_ENGINES)
            except OSError:
                message, fds = b"", []
            if not message:
                live.remove(control)
                control.close()
                continue
            request = json.loads(message)
            if request.get("op") == "engine" and control in admins:
                answer, engine_controls = _fork_engines(fds, request.get("engines", 1), live)
                for engine_control in engine_controls:
                    engine_control.sendall(hello)
                    live.append(engine_control)
            else:
                if request.get("op") == "fork":
                    forks.forked()  # before the fork: the new worker is not yet there to share what is copied
                answer = _handle(request, fds, live, setup, plan)
            control.sendall(json.dumps(answer).encode() + b"\n")


def _hello() -> dict[str, Any]:
    return {"status": "ready", "pid": os.getpid(), "landlock_abi": isolation.landlock_abi()}


def _fork_engines(
    fds: list[int], count: object, controls: list[socket.socket]
) -> tuple[dict[str, Any], list[socket.socket]]:
    """Fork a batch's first grading process on the channels in ``fds``; the answer and our ends of their controls.

    One control channel per channel: the first pair is the first grading
    process's own; it forks a grading process for each of the others once it
    has collected the checks and recorded their plans (``engine.serve``), so
    that work is done once a batch, and this process never does it. They all
    lead one process group, the first's: the batch kills them with it
    (``batch._attempt``).
    """
    if not fds or len(fds) != count:  # none, or more than one message carries (``MAX_ENGINES``)
        for fd in fds:
            os.close(fd)
        return {"error": f"{count!r} grading processes asked for, with {len(fds)} channels"}, []
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in fds]
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setpgid(0, 0)
            for control in controls:
                control.close()
            for ours, _ in pairs:
                ours.close()
            privilege.leave_private_view()  # the checks read the assignment wherever it lives
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            isolation.set_process_name("grader-engine")
            from grader import engine  # here: the checks' machinery never enters the zygote

            engine.serve(fds, [theirs for _, theirs in pairs])
            code = 0
        finally:
            os._exit(code)  # never fall back into the zygote's loop
    # Here too: the batch may kill the group before the child has made it.
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)
    for fd in fds:
        os.close(fd)
    for _, theirs in pairs:
        theirs.close()
    return {"pid": pid}, [ours for ours, _ in pairs]


class _Plan:
    """The planned requests loaded last (``Preloaded``), which each new worker inherits; None before any."""

    def __init__(self) -> None:
        self.current: Preloaded | None = None

    def load(self, fds: list[int]) -> dict[str, Any]:
        """Load the plan in the one descriptor of ``fds`` (a grading process's ``Zygote.preload``), and close it.

        The same plan again (each grading process of a batch sends it) is not
        loaded twice. One that cannot be loaded leaves no plan: every worker
        then loads each request as it comes, as it always could.
        """
        try:
            if len(fds) != 1:
                return {"error": "preload needs exactly one descriptor"}
            size = os.fstat(fds[0]).st_size
            if size > MAX_PRELOAD_BYTES:
                self.current = None
                return {"error": f"a plan of {size:,} bytes is over the {MAX_PRELOAD_BYTES:,} loaded in advance"}
            frames = os.pread(fds[0], size, 0)
        except OSError as exc:
            return {"error": f"the plan could not be read: {exc.strerror}"}
        finally:
            for fd in fds:
                os.close(fd)
        digest = plan_digest(frames)
        if self.current is None or self.current.digest != digest:
            self.current = None  # the last plan's objects go before the next one's are made
            try:
                self.current = Preloaded.load(frames, digest)
            except PreloadError as exc:
                return {"error": str(exc)}
            gc.freeze()  # as the rest of the zygote's heap: no worker's collector walks (and copies) them
        return {"preloaded": len(self.current)}


def _handle(
    request: dict[str, Any],
    fds: list[int],
    controls: list[socket.socket],
    setup: worker.Setup,
    plan: _Plan,
) -> dict[str, Any]:
    op = request.get("op")
    if op == "preload":
        return plan.load(fds)
    if op == "fork":
        if len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return {"error": "fork needs exactly one socket"}
        zygote = os.getpid()  # before the fork: the worker checks it is still its parent (``worker.run``)
        pid = os.fork()
        if pid == 0:
            for control in controls:
                control.close()
            channel = socket.socket(fileno=fds[0])
            worker.run(
                channel,
                scratch=Path(request["scratch"]),
                limits=Limits.from_dict(request["limits"]),
                setup=setup,
                parent=zygote,
                cpus=[int(cpu) for cpu in request.get("cpus", ())],
                preloaded=plan.current,
            )
            os._exit(WORKER_BROKEN_EXIT)  # worker.run never returns; belt and braces
        os.close(fds[0])
        return {"pid": pid}
    for fd in fds:
        os.close(fd)
    if op == "wait":
        pid = int(request["pid"])
        try:
            _, status, usage = os.wait4(pid, 0)
        except ChildProcessError:
            return {"pid": pid, "status": None}
        # What tells a worker's own death from one dealt from outside (see ``grader.sandbox.death``): its peak,
        # which the grader compares with what it had when it started; and, for a grader that did not look then,
        # how far it grew past this process's resident memory.
        grew_kib = max(0, usage.ru_maxrss - _resident_kib())
        return {
            "pid": pid,
            "status": status,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_kib": usage.ru_maxrss,
            "grew_kib": grew_kib,
        }
    return {"error": f"unknown op {op!r}"}


def _resident_kib() -> int:
    """This process's resident memory now: about what a worker starts with (its peak would overstate that)."""
    resident = memory.resident_kib()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if resident is None else resident


def main(argv: list[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the grader decides when we stop
    isolation.set_process_name("grader-zygote")
    controls = [socket.socket(fileno=int(fd)) for fd in argv]
    serve(controls)


if __name__ == "__main__":
    main(sys.argv[1:])
