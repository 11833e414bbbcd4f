"""Benchmark: ways for a forked worker to give up root, each timed inside a fresh fork (ms).

    python bench/identity.py [--samples 50]

- ``drop``: what workers do (``privilege.drop``): bounding set, securebits,
  setgroups/setresgid/setresuid, capset; Python stays reachable through the
  zygote's private mount namespace, made once, so no per-worker cost there.
- ``userns``: the alternative, a user namespace per worker, entered as
  an unprivileged process does (setresuid, then unshare(CLONE_NEWUSER) and
  its uid/gid maps); it gives the worker every capability inside that
  namespace, and would still need a mount namespace to reach Python under
  /root, so it adds to ``drop`` rather than replacing it.
- ``mountns_per_worker``: making the private view in every worker instead of
  once in the zygote.

Needs root; numbers are medians of --samples forks.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import statistics
import sysconfig
import time
from collections.abc import Callable

from grader.sandbox import privilege

_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNS = 0x00020000


def _userns() -> None:
    """Become the identity, then enter a user namespace of its own as an unprivileged process would."""
    libc = ctypes.CDLL(None, use_errno=True)
    identity = privilege.configured_identity()
    os.setgroups([])
    os.setresgid(identity.gid, identity.gid, identity.gid)
    os.setresuid(identity.uid, identity.uid, identity.uid)
    if libc.unshare(_CLONE_NEWUSER) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{identity.uid} {identity.uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{identity.gid} {identity.gid} 1")


def _drop() -> None:
    layer, detail = privilege.drop(privilege.Plan(privilege.configured_identity()), owned=[])
    if layer is None:
        raise OSError(detail)


def _mountns() -> None:
    paths = sorted({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]})
    chosen = privilege.plan(paths)
    if chosen.identity is None:
        raise OSError(chosen.note)


def _time_in_fork(action: Callable[[], None]) -> float | str:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            started = time.perf_counter()
            action()
            os.write(write_end, repr(time.perf_counter() - started).encode())
        except BaseException as exc:  # noqa: BLE001 - the child reports and leaves
            os.write(write_end, f"error: {exc}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    data = os.read(read_end, 4096).decode()
    os.close(read_end)
    os.waitpid(pid, 0)
    return data if data.startswith("error") else float(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args()
    figures: dict[str, object] = {"samples": args.samples}
    for name, action in (("drop", _drop), ("userns", _userns), ("mountns_per_worker", _mountns)):
        results = [_time_in_fork(action) for _ in range(args.samples)]
        errors = [r for r in results if isinstance(r, str)]
        times = [r for r in results if isinstance(r, float)]
        figures[name] = errors[0] if errors else {"median_ms": round(statistics.median(times) * 1000, 3)}
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
