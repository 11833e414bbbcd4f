"""Tests for the Landlock and seccomp layers: each is applied in a forked child and attacked there.

A layer restricts its process for good, so it never touches the test
process itself; the child reports what each attempt did through a pipe and
always leaves by ``os._exit``.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch  # imported before the fork, as in the zygote

from grader.sandbox import isolation

OK = "ok"
Outcome = dict[str, str]

_STATUSES = {status.name: status for status in isolation.probe()}


def _require(name: str) -> None:
    status = _STATUSES[name]
    if not status.active:
        pytest.skip(f"{name} not available here: {status.detail}")


def _attempt(action: Callable[[], object]) -> str:
    """Return "ok", or the errno name of the OSError the action raised."""
    try:
        action()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return OK


def _in_child(body: Callable[[], Outcome]) -> Outcome:
    """Run ``body`` in a forked child and return what it reported."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            try:
                report = body()
            except BaseException as exc:  # noqa: BLE001 - the child must reach os._exit whatever happens
                report = {"crash": f"{type(exc).__name__}: {exc}"}
            os.write(write_end, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks: list[bytes] = []
    try:
        while select.select([read_end], [], [], 10)[0]:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    assert chunks, "the child reported nothing"
    outcome: Outcome = json.loads(b"".join(chunks))
    assert "crash" not in outcome, outcome["crash"]
    return outcome


def _python_paths() -> list[Path]:
    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"], paths["purelib"], paths["platlib"], sys.prefix, sys.base_prefix}
    roots |= {p for p in sys.path if p and "site-packages" in p}
    system = ["/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/local/lib", "/etc/ld.so.cache"]  # a single file too
    return [Path(p) for p in sorted(roots)] + [Path(p) for p in system]


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    secret = tmp_path / "solutions" / "answer.txt"
    secret.parent.mkdir()
    secret.write_text("42")
    return {"scratch": scratch, "secret": secret, "outside": tmp_path / "outside.txt"}


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def _lock(scratch: Path) -> None:
    status = isolation.apply_landlock(
        read_paths=_python_paths(), write_paths=[scratch], read_files=[Path("/dev/null"), Path("/dev/urandom")]
    )
    assert status.active, status.detail


def test_probe_names_every_layer() -> None:
    assert list(_STATUSES) == ["rlimits", "landlock", "landlock-network", "landlock-scoping", "seccomp"]
    assert _STATUSES["rlimits"].active
    assert all(status.detail for status in _STATUSES.values())


def test_landlock_abi_matches_probe() -> None:
    assert (isolation.landlock_abi() > 0) == _STATUSES["landlock"].active


def test_landlock_confines_reads_and_writes(tree: dict[str, Path]) -> None:
    _require("landlock")

    def body() -> Outcome:
        _lock(tree["scratch"])
        inside = tree["scratch"] / "sub" / "out.txt"
        return {
            "read secret": _attempt(tree["secret"].read_text),
            "list tmp": _attempt(lambda: os.listdir(tree["secret"].parent)),
            "write outside": _attempt(lambda: tree["outside"].write_text("x")),
            "mkdir inside": _attempt(inside.parent.mkdir),
            "write inside": _attempt(lambda: inside.write_text("x")),
            "rename inside": _attempt(lambda: inside.rename(inside.with_name("moved.txt"))),
            "read inside": _attempt(inside.with_name("moved.txt").read_text),
            "read stdlib": _attempt(lambda: Path(json.__file__).read_text()),
            "import": _attempt(lambda: __import__("fractions")),
            "dev null": _attempt(lambda: open(os.devnull, "w").close()),
            "mknod": _attempt(lambda: os.mknod(tree["scratch"] / "disk", 0o600 | 0o060000, os.makedev(8, 0))),
        }

    assert _in_child(body) == {
        "read secret": "EACCES",
        "list tmp": "EACCES",
        "write outside": "EACCES",
        "mkdir inside": OK,
        "write inside": OK,
        "rename inside": OK,
        "read inside": OK,
        "read stdlib": OK,
        "import": OK,
        "dev null": OK,
        "mknod": "EACCES",
    }
    assert not tree["outside"].exists()


def test_landlock_blocks_tcp(tree: dict[str, Path], listener: int) -> None:
    _require("landlock-network")

    def body() -> Outcome:
        _lock(tree["scratch"])
        with socket.socket() as client:
            return {"connect": _attempt(lambda: client.connect(("127.0.0.1", listener)))}

    assert _in_child(body) == {"connect": "EACCES"}


def test_landlock_scopes_signals(tree: dict[str, Path]) -> None:
    _require("landlock-scoping")

    def body() -> Outcome:
        _lock(tree["scratch"])
        return {
            "signal parent": _attempt(lambda: os.kill(os.getppid(), 0)),
            "signal self": _attempt(lambda: os.kill(os.getpid(), 0)),
        }

    assert _in_child(body) == {"signal parent": "EPERM", "signal self": OK}


def test_seccomp_denies_processes_and_sockets() -> None:
    _require("seccomp")

    def fork() -> None:
        if os.fork() == 0:
            os._exit(0)

    def body() -> Outcome:
        status = isolation.apply_seccomp()
        assert status.active, status.detail
        return {
            "socket": _attempt(lambda: socket.socket().close()),
            "unix socket": _attempt(lambda: socket.socket(socket.AF_UNIX).close()),
            "fork": _attempt(fork),
            "subprocess": _attempt(lambda: subprocess.run(["/bin/true"], check=False)),
            "exec": _attempt(lambda: os.execv("/bin/true", ["/bin/true"])),
            "signal parent": _attempt(lambda: os.kill(os.getppid(), 0)),
            "signal everyone": _attempt(lambda: os.kill(-1, 0)),
            "signal self": _attempt(lambda: os.kill(os.getpid(), 0)),
        }

    assert _in_child(body) == {
        "socket": "EPERM",
        "unix socket": "EPERM",
        "fork": "EPERM",
        "subprocess": "EPERM",
        "exec": "EPERM",
        "signal parent": "EPERM",
        "signal everyone": "EPERM",
        "signal self": OK,
    }


def test_seccomp_keeps_threads_and_torch() -> None:
    _require("seccomp")

    def body() -> Outcome:
        status = isolation.apply_seccomp()
        assert status.active, status.detail
        ran: list[int] = []
        threads = [threading.Thread(target=ran.append, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        torch.set_num_threads(2)  # intra-op threads are created after the filter
        return {
            "threads": str(sorted(ran)),
            "torch": str(torch.ones(3).sum().item()),
            "torch parallel": str(torch.ones(1_000_000).sum().item()),
        }

    assert _in_child(body) == {"threads": "[0, 1, 2, 3]", "torch": "3.0", "torch parallel": "1000000.0"}


def test_both_layers_keep_open_descriptors(tree: dict[str, Path]) -> None:
    _require("landlock")
    _require("seccomp")
    here, there = socket.socketpair()

    def body() -> Outcome:
        here.close()
        _lock(tree["scratch"])
        assert isolation.apply_seccomp().active
        there.sendall(b"still here")
        return {"torch": str(torch.arange(4.0).sum().item())}

    try:
        assert _in_child(body) == {"torch": "6.0"}
        assert here.recv(100) == b"still here"
    finally:
        here.close()
        there.close()
