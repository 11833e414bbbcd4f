"""Tests for the Landlock and seccomp layers: each is applied in a forked child and attacked there.

A layer restricts its process for good, so it never touches the test
process itself; the child reports what each attempt did through a pipe and
always leaves by ``os._exit``.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch  # imported before the fork, as in the zygote

from grader.sandbox import isolation, libc, policy, privilege, worker
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.runner import Worker
from grader.sandbox.scratch import make_root, remove_tree

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
    assert list(_STATUSES) == ["rlimits", "landlock", "landlock-network", "landlock-scoping", "identity", "seccomp"]
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


# -- no privilege: the allowlist and the worker identity ------------------------------------

ROOT = os.geteuid() == 0
#: A uid and gid for tests that play "an ordinary user" or the worker identity; owns nothing here.
TEST_ID = privilege.Identity(privilege.DEFAULT_UID + 7, privilege.DEFAULT_GID + 7)


def _metadata(path: Path) -> dict[str, object]:
    """Everything about a file a metadata attack could change; ctime moves even for a no-op success."""
    info = os.stat(path)
    xattrs = {name: os.getxattr(path, name) for name in os.listxattr(path)}
    return {
        "mode": oct(info.st_mode),
        "owner": (info.st_uid, info.st_gid),
        "times": (info.st_atime_ns, info.st_mtime_ns, info.st_ctime_ns),
        "xattrs": xattrs,
    }


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside any scratch folder: setuid bit set (not executable), an extended attribute."""
    folder = tmp_path / "outside"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    path = folder / "victim.txt"
    path.write_text("not yours\n")
    path.chmod(0o4644)
    os.setxattr(path, "user.grader", b"original")
    return path


def _metadata_attacks(target: Path) -> Outcome:
    """Each attack sets what is already there: where it goes through, only ctime moves."""
    info = os.stat(target)
    libc = ctypes.CDLL(None, use_errno=True)

    def settimeofday() -> (
        None
    ):  # NULL, NULL (the raw call: glibc's wrapper dereferences it): a no-op that needs CAP_SYS_TIME
        number = {"x86_64": 164, "aarch64": 170}[os.uname().machine]
        if libc.syscall(number, None, None) != 0:
            raise OSError(ctypes.get_errno(), "settimeofday")

    def setdomainname() -> None:
        current = ctypes.create_string_buffer(256)
        libc.getdomainname(current, 256)
        if libc.setdomainname(current, len(current.value)) != 0:  # to itself
            raise OSError(ctypes.get_errno(), "setdomainname")

    return {
        "sethostname": _attempt(lambda: socket.sethostname(socket.gethostname())),
        "setdomainname": _attempt(setdomainname),
        "settimeofday": _attempt(settimeofday),
        "chmod": _attempt(lambda: os.chmod(target, stat_mode(info))),
        "fchmod": _attempt(lambda: _with_fd(target, lambda fd: os.fchmod(fd, stat_mode(info)))),
        "chown": _attempt(lambda: os.chown(target, info.st_uid, info.st_gid)),
        "lchown": _attempt(lambda: os.lchown(target, info.st_uid, info.st_gid)),
        "utime": _attempt(lambda: os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))),
        "setxattr": _attempt(lambda: os.setxattr(target, "user.grader", b"original")),
        "removexattr of none": _attempt(lambda: os.removexattr(target, "user.absent")),
    }


def stat_mode(info: os.stat_result) -> int:
    return info.st_mode & 0o7777


def _set_limit(which: int, limits: tuple[int, int]) -> None:
    """setrlimit, its refusal as the OSError it is (Python turns EPERM into a ValueError)."""
    try:
        resource.setrlimit(which, limits)
    except ValueError as exc:
        raise OSError(errno.EPERM, str(exc)) from None


def _with_fd(path: Path, action: Callable[[int], None]) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        action(fd)
    finally:
        os.close(fd)


def _process_attacks() -> Outcome:
    """Other processes' priority, limits and CPUs, each set to its current value; the worker's own raised."""
    parent = os.getppid()
    nice = os.getpriority(os.PRIO_PROCESS, 0)  # inherited: the parent's value
    cpus = os.sched_getaffinity(0)
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    return {
        "setpriority parent": _attempt(lambda: os.setpriority(os.PRIO_PROCESS, parent, nice)),
        "getpriority parent": _attempt(lambda: os.getpriority(os.PRIO_PROCESS, parent)),
        "prlimit parent": _attempt(lambda: resource.prlimit(parent, resource.RLIMIT_NOFILE, limit)),
        "affinity parent": _attempt(lambda: os.sched_setaffinity(parent, cpus)),
        "raise own priority": _attempt(lambda: os.setpriority(os.PRIO_PROCESS, 0, nice - 5)),
        "raise own hard limit": _attempt(lambda: _set_limit(resource.RLIMIT_CPU, (soft, hard + 1))),
        "own priority, same": _attempt(lambda: os.setpriority(os.PRIO_PROCESS, 0, nice)),
        "own limit, same": _attempt(lambda: resource.prlimit(0, resource.RLIMIT_NOFILE, limit)),
        "own CPUs, same": _attempt(lambda: os.sched_setaffinity(0, cpus)),
    }


_ALL_REFUSED = {
    "sethostname": "EPERM",
    "setdomainname": "EPERM",
    "settimeofday": "EPERM",
    "chmod": "EPERM",
    "fchmod": "EPERM",
    "chown": "EPERM",
    "lchown": "EPERM",
    "utime": "EPERM",
    "setxattr": "EPERM",
    "removexattr of none": "EPERM",
}
_SELF_ONLY = {
    "setpriority parent": "EPERM",
    "getpriority parent": "EPERM",
    "prlimit parent": "EPERM",
    "affinity parent": "EPERM",
    "own priority, same": OK,
    "own limit, same": OK,
    "own CPUs, same": OK,
}


def _lower_cpu_hard_limit() -> None:
    """Give the child a finite CPU hard limit, as a worker has, so raising it is a real attempt."""
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_CPU, (3600, 3600))


def test_the_allowlist_is_data_with_a_reason_for_each_call() -> None:
    names = [rule.name for rule in policy.RULES]
    assert len(names) == len(set(names))
    assert all(rule.why for rule in policy.RULES)
    for arch, table in policy.SYSCALLS.items():
        assert set(table) <= set(names), arch
        assert len(set(table.values())) == len(table), f"{arch}: two calls share a number"
        assert isolation.allowlist_size(arch) > 100
        program = isolation._seccomp_program(arch, pid=1234, group_leader=True)
        assert all(0 <= jt <= 255 and 0 <= jf <= 255 for _, jt, jf, _ in program)
    forbidden = {"chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "utimensat", "utime",
                 "utimes", "futimesat", "setxattr", "fsetxattr", "lsetxattr", "removexattr", "sethostname",
                 "setdomainname", "settimeofday", "clock_settime", "adjtimex", "socket", "fork", "vfork", "execve",
                 "ptrace", "mount", "unshare", "setns", "setuid", "setresuid", "capset", "mknodat"}  # fmt: skip
    assert not forbidden & set(names)


@pytest.mark.parametrize("arch", sorted(policy.SYSCALLS))
@pytest.mark.parametrize("group_leader", [True, False])
def test_a_filter_prepared_before_the_fork_is_the_one_assembled_for_the_pid(arch: str, group_leader: bool) -> None:
    prepared = isolation.prepare_seccomp(group_leader=group_leader, arch=arch)
    assert prepared is not None
    assert prepared.allowed == isolation.allowlist_size(arch)
    assert prepared.pid_at  # kill, tgkill, prlimit64... name the worker itself
    assert bool(prepared.minus_pid_at) == group_leader  # kill(-pgid) only where it leads its group
    for pid in (2, 1234, 61000, 4194304):
        program = isolation._seccomp_program(arch, pid=pid, group_leader=group_leader)
        assert prepared.instructions == len(program)
        assert bytes(prepared.for_pid(pid)) == isolation._pack(program), pid


def test_a_prepared_filter_for_another_process_group_is_not_used() -> None:
    """A process that leads no group gets a filter assembled for it, not the worker's (which allows kill(-pid))."""
    _require("seccomp")
    prepared = isolation.prepare_seccomp(group_leader=True)

    def body() -> Outcome:
        assert os.getpgrp() != os.getpid()
        status = isolation.apply_seccomp(prepared)
        assert status.active, status.detail
        return {
            "signal self": _attempt(lambda: os.kill(os.getpid(), 0)),
            "signal own group": _attempt(lambda: os.kill(-os.getpid(), 0)),
            "signal parent": _attempt(lambda: os.kill(os.getppid(), 0)),
        }

    assert _in_child(body) == {"signal self": OK, "signal own group": "EPERM", "signal parent": "EPERM"}


def test_a_prepared_filter_is_installed_for_the_worker_that_leads_its_session() -> None:
    _require("seccomp")
    prepared = isolation.prepare_seccomp(group_leader=True)
    assert prepared is not None

    def body() -> Outcome:
        os.setsid()
        status = isolation.apply_seccomp(prepared)
        assert status.active, status.detail
        assert f"{prepared.instructions}-instruction filter" in status.detail
        return {
            "signal self": _attempt(lambda: os.kill(os.getpid(), 0)),
            "signal own group": _attempt(lambda: os.kill(-os.getpid(), 0)),
            "signal parent": _attempt(lambda: os.kill(os.getppid(), 0)),
            "socket": _attempt(lambda: socket.socket().close()),
        }

    assert _in_child(body) == {"signal self": OK, "signal own group": OK, "signal parent": "EPERM", "socket": "EPERM"}


def test_seccomp_refuses_privilege_attacks_and_nothing_changes(victim: Path) -> None:
    _require("seccomp")
    before, host = _metadata(victim), socket.gethostname()

    def body() -> Outcome:
        _lower_cpu_hard_limit()
        os.chdir(victim.parent)  # reached from here whatever the modes of pytest's folders above
        status = isolation.apply_seccomp()
        assert status.active, status.detail
        return _metadata_attacks(Path(victim.name)) | _process_attacks()

    outcome = _in_child(body)
    assert outcome == _ALL_REFUSED | _SELF_ONLY | {"raise own priority": outcome["raise own priority"],
                                                   "raise own hard limit": outcome["raise own hard limit"]}  # fmt: skip
    assert _metadata(victim) == before
    assert socket.gethostname() == host


def test_seccomp_alone_keeps_an_ordinary_users_worker_off_that_users_files(victim: Path) -> None:
    """A grader run as an ordinary user: its worker owns the user's files, and only the allowlist stops it."""
    _require("seccomp")
    if ROOT:
        os.chown(victim, TEST_ID.uid, TEST_ID.gid)  # the file of the "ordinary user" the child becomes
        os.chmod(victim, 0o4644)  # chown cleared the setuid bit
    before = _metadata(victim)

    def body() -> Outcome:
        os.chdir(victim.parent)  # reached from here whatever the modes of pytest's folders above
        if ROOT:
            os.setgroups([])
            os.setresgid(TEST_ID.gid, TEST_ID.gid, TEST_ID.gid)
            os.setresuid(TEST_ID.uid, TEST_ID.uid, TEST_ID.uid)
        assert os.stat(victim.name).st_uid == os.getuid()
        assert isolation.apply_seccomp().active
        return _metadata_attacks(Path(victim.name))

    outcome = _in_child(body)
    for name in ("chmod", "fchmod", "chown", "lchown", "utime", "setxattr"):
        assert outcome[name] == "EPERM", name
    assert _metadata(victim) == before


@pytest.mark.skipif(not ROOT, reason="dropping to another identity needs root")
def test_a_root_worker_drops_every_privilege(victim: Path) -> None:
    before, host = _metadata(victim), socket.gethostname()

    def body() -> Outcome:
        _lower_cpu_hard_limit()
        os.chdir(victim.parent)  # reached from here whatever the modes of pytest's folders above
        layer, _ = privilege.drop(privilege.Plan(TEST_ID), owned=[])
        status = Path("/proc/self/status").read_text().splitlines()
        fields = dict(line.split(":\t", 1) for line in status if ":\t" in line)
        return (
            {
                "layer": str(layer),
                "ids": f"{os.getresuid()} {os.getresgid()} {os.getgroups()}",
                "caps": " ".join(fields[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")),
                "no_new_privs": fields["NoNewPrivs"].strip(),
                "back to root": _attempt(lambda: os.setuid(0)),
                "securebits": _attempt(
                    lambda: ctypes.CDLL(None, use_errno=True).prctl(28, 0, 0, 0, 0) == 0 or _raise()
                ),
            }
            | _metadata_attacks(Path(victim.name))
            | _process_attacks()
        )

    outcome = _in_child(body)
    zero = "0000000000000000"
    assert outcome.pop("layer") == "unprivileged"
    assert outcome.pop("ids") == f"{(TEST_ID.uid,) * 3} {(TEST_ID.gid,) * 3} []"
    assert outcome.pop("caps") == " ".join([zero] * 5)
    assert outcome.pop("no_new_privs") == "1"
    assert outcome.pop("back to root") == "EPERM"
    assert outcome.pop("securebits") == "EPERM"
    # Without seccomp the kernel itself refuses (EPERM, or EACCES for a priority raise).
    assert outcome.pop("raise own priority") in ("EACCES", "EPERM")
    assert outcome.pop("raise own hard limit") == "EPERM"
    for name in ("sethostname", "setdomainname", "settimeofday", "chmod", "fchmod", "chown", "lchown", "utime",
                 "setxattr", "setpriority parent", "prlimit parent", "affinity parent"):  # fmt: skip
        assert outcome[name] in ("EPERM", "EACCES"), (name, outcome[name])
    assert _metadata(victim) == before
    assert socket.gethostname() == host


def _raise() -> bool:
    raise OSError(ctypes.get_errno(), "prctl")


def test_blockers_are_the_outermost_untraversable_folders(tmp_path: Path) -> None:
    private = tmp_path / "home"
    (private / "python" / "lib").mkdir(parents=True)
    (private / "inner").mkdir()
    private.chmod(0o700)
    (private / "inner").chmod(0o700)
    public = tmp_path / "public"
    public.mkdir()
    tmp_path.chmod(0o755)
    above = privilege.blockers([tmp_path], TEST_ID)  # pytest's own folder may be mode 700 too
    found = privilege.blockers([private / "python" / "lib", private / "inner" / "x", public], TEST_ID)
    assert found == (above or [private])
    assert privilege.blockers([public], TEST_ID) == above


@pytest.mark.skipif(not ROOT, reason="mount namespaces and other identities need root")
def test_a_private_view_makes_python_reachable_and_changes_nothing_outside(tmp_path: Path) -> None:
    """Python under a mode-700 folder (pyenv in /root): the worker uid reads it, and sees nothing else there."""
    tmp_path.chmod(0o755)
    home = tmp_path / "home"
    lib = home / "python" / "lib"
    lib.mkdir(parents=True)
    (lib / "lazy_module.py").write_text("VALUE = 42\n")
    (home / "secret.txt").write_text("VICTIMSECRET")
    home.chmod(0o700)
    mounts_before = Path("/proc/self/mountinfo").read_text()
    modes_before = _metadata(home)

    def body() -> Outcome:
        os.environ["GRADER_WORKER_USER"] = f"{TEST_ID.uid}:{TEST_ID.gid}"
        chosen = privilege.plan([str(lib)])
        layer, _ = privilege.drop(chosen, owned=[])
        return {
            "layer": str(layer),
            "note": chosen.note,
            "read lib": _attempt(lambda: (lib / "lazy_module.py").read_text()),
            "list home": str(sorted(os.listdir(home))),
            "read secret": _attempt(lambda: (home / "secret.txt").read_text()),
            "write lib": _attempt(lambda: (lib / "new.py").write_text("x")),
        }

    outcome = _in_child(body)
    assert outcome["layer"] == "unprivileged"
    assert "private mount namespace" in outcome["note"]
    assert outcome["read lib"] == OK
    assert outcome["list home"] == "['python']"
    assert outcome["read secret"] == "ENOENT"
    assert outcome["write lib"] in ("EACCES", "EROFS")
    assert Path("/proc/self/mountinfo").read_text() == mounts_before
    assert _metadata(home) == modes_before
    assert not (lib / "new.py").exists()


def _in_real_worker(source: bytes, function: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Call ``function`` of a one-file submission in a worker forked by a real zygote: its answer and layers."""
    root = make_root("grader-test-")
    try:
        with Zygote().start() as zygote:
            worker = Worker(zygote, scratch_root=root, limits=Limits())
            try:
                assert worker.init({"probe.py": source}, timeout_s=30)["status"] == "ok"
                assert worker.request({"op": "import", "module": "probe"}, timeout_s=30)["status"] == "ok"
                call = {"op": "call", "module": "probe", "function": function, "seed": 0, "args": (), "kwargs": {}}
                answer = worker.request(call, timeout_s=30)
                answer["scratch"] = str(worker.scratch)
                return answer, worker.layers
            finally:
                worker.close()
    finally:
        remove_tree(root)


def test_a_real_worker_runs_unprivileged_and_still_imports_lazily(tmp_path: Path) -> None:
    """Modules the zygote never imported load in a locked-down worker: honest students keep their marks."""
    source = (
        b"import os\n"
        b"def go():\n"
        b"    import statistics, fractions, torch.distributions\n"
        b"    from collections import Counter\n"
        b"    return [statistics.mean([1, 2, 3]), os.getuid(), sorted(Counter('aab').items())[0][1]]\n"
    )
    answer, layers = _in_real_worker(source, "go")
    assert answer["status"] == "ok", answer
    mean, uid, count = answer["value"]
    assert (mean, count) == (2, 2)
    if ROOT:
        assert uid == privilege.configured_identity().uid
        assert any(layer.startswith("unprivileged") for layer in layers), layers
    if _STATUSES["seccomp"].active:
        assert any(layer.startswith("seccomp allowlist") for layer in layers), layers


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", privilege.Identity(privilege.DEFAULT_UID, privilege.DEFAULT_GID)),
        ("1234", privilege.Identity(1234, 1234)),
        ("1234:99", privilege.Identity(1234, 99)),
        ("nobody", privilege.Identity(65534, 65534)),
    ],
)
def test_the_worker_identity_is_configurable(value: str, expected: privilege.Identity) -> None:
    try:
        found = privilege.configured_identity({"GRADER_WORKER_USER": value})
    except ValueError:
        pytest.skip("no 'nobody' account here")
    assert found.uid == expected.uid
    if value != "nobody":
        assert found == expected


@pytest.mark.parametrize("value", ["0", "1234:0", "no-such-user-here", "1234:no-such-group-here"])
def test_a_bad_worker_identity_is_a_clear_error(value: str) -> None:
    with pytest.raises(ValueError, match="GRADER_WORKER_USER"):
        privilege.configured_identity({"GRADER_WORKER_USER": value})


def test_a_real_worker_keeps_only_its_own_descriptors_and_environment() -> None:
    source = (
        b"import os\n"
        b"def look():\n"
        b"    fds = []\n"
        b"    for fd in range(4096):\n"
        b"        try:\n"
        b"            os.fstat(fd)\n"
        b"        except OSError:\n"
        b"            continue\n"
        b"        fds.append(fd)\n"
        b"    return [fds, sorted(os.environ.items())]\n"
    )
    answer, _ = _in_real_worker(source, "look")
    assert answer["status"] == "ok", answer
    fds, environ = answer["value"]
    assert len(fds) == 5 and fds[:3] == [0, 1, 2], fds  # stdin, the output file twice, itself, its channel
    scratch = str(answer["scratch"])
    assert dict(environ) == {**worker._SAFE_ENV, "HOME": scratch, "TMPDIR": scratch}


@pytest.mark.parametrize("close_range", [True, False])
def test_a_worker_closes_every_descriptor_it_does_not_keep(close_range: bool) -> None:
    if close_range and not libc.has_close_range():
        pytest.skip("this kernel has no close_range")

    def body() -> Outcome:
        pipes = [os.pipe() for _ in range(6)]
        high = os.dup2(pipes[0][0], 900)
        opened = [*(fd for pair in pipes for fd in pair), high]
        chosen = {pipes[2][1], pipes[4][0]}
        others = {int(fd) for fd in os.listdir("/proc/self/fd")} - set(opened)  # the report's pipe among them
        worker._close_descriptors_but(others | chosen, close_range=close_range)
        still = sorted(fd for fd in opened if _attempt(functools.partial(os.fstat, fd)) == OK)
        return {"open": str(still), "kept": str(sorted(chosen))}

    outcome = _in_child(body)
    assert outcome["open"] == outcome["kept"], outcome
