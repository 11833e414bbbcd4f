"""A batch's grading process: forked by the zygote or the first one, it grades what its parent hands it.

The zygote forks the first torch-warm (``Zygote.fork_engines``), so neither
the batch's parent nor a grading process pays for a torch import: only the
zygote does, once. Only after the fork does it load the checks and the
solutions; it then forks the batch's other grading processes, which so
start with the checks collected and their plans recorded (``serve``). Each
talks to the parent over a channel of its own, pickled both ways (both ends
are the grader's own code; no student object ever crosses it):

- parent -> engine: ``Setup`` first, then one ``Submission`` (or ``None``: stop)
  in answer to each ``("next", None)``, sent by ``send_submission``: its files
  travel as raw messages of their own, never pickled with it;
- engine -> parent: ``("next", None)``, ``("verdicts", <pickled verdicts>)`` before a
  report when grading its submission reached verdicts the others may reuse (the
  parent passes them on, unread, with the others' next submissions), ``("report", <report dict>)``,
  ``("lost", (<student>, <why>))`` for a submission it could not grade because
  helper processes kept dying under it, ``("error", <message>)``, and
  ``("done", None)`` last.

A submission is sent only when the engine asks, so neither end ever blocks
writing while the other is writing too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import pickle
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from grader.assignment import Assignment
from grader.errors import GraderError
from grader.models import Report
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.submission import Submission


@dataclass(frozen=True)
class Setup:
    """What a grading process needs before its first submission."""

    assignment: Assignment
    limits: Limits
    #: The parent's temporary folder: the zygote's environment carries no TMPDIR.
    tempdir: str
    #: Where workers' folders go; the parent removes it, whatever happens here.
    scratch: str
    #: The CPU this process and its workers run on (see ``allowed_cpus``); None: any.
    cpu: int | None = None


def send_submission(channel: Connection, submission: Submission | None, learned: Sequence[bytes] = ()) -> None:
    """``submission`` (None: stop) for ``receive_submission``: the rest pickled, then each file's bytes as they are.

    Pickled whole, a submission of 24 MiB (the most ``bounds`` admits) would
    be held twice on each side while it crossed; this way neither side holds
    more than the files and one file's worth in transit. ``learned``: the
    verdicts other grading processes reached since this one last asked, as
    they sent them (``("verdicts", ...)``), passed on unread.
    """
    if submission is None:
        channel.send(None)
        return
    channel.send(
        (
            dataclasses.replace(submission, files={}),
            [(rel, len(data)) for rel, data in submission.files.items()],
            list(learned),
        )
    )
    for data in submission.files.values():
        channel.send_bytes(data)


def receive_submission(channel: Connection, learn: Callable[[list[bytes]], None] | None = None) -> Submission | None:
    """What ``send_submission`` sent; ``learn`` gets the verdicts that came with it."""
    head = channel.recv()
    if head is None:
        return None
    shell, listed, learned = head
    if learn is not None and learned:
        learn(learned)
    return dataclasses.replace(shell, files={rel: channel.recv_bytes(size + 1) for rel, size in listed})


def serve(channel_fds: Sequence[int], controls: Sequence[socket.socket]) -> None:
    """Grade what the parent sends on the first channel, forking workers through the first control channel.

    Each further channel and control channel is another grading process's:
    this one forks it where the first submission is asked for, once the checks
    are collected and their plans recorded (``_fork_others``), so that work is
    done once a batch. It waits for them before it returns: their CPU time
    then counts in its own when its parent, the zygote, reaps it.
    """
    channel = Connection(channel_fds[0])
    others = [(Connection(fd), control) for fd, control in zip(channel_fds[1:], controls[1:], strict=True)]
    forked: list[int] = []
    try:
        setup = channel.recv()
    except (EOFError, OSError):
        return  # the parent died before saying anything
    try:
        # Here, not at the top: the parent imports this module for ``Setup``
        # and must not import torch, which grading needs.
        from grader.grading import Grader
        from grader.plugin import Job

        _settle(setup)

        def learn(blobs: list[bytes]) -> None:
            for blob in blobs:
                grader.learn_verdicts(pickle.loads(blob))  # a grading process of this batch sent it, via the parent

        def reported(report: Report) -> None:
            # The verdicts this submission taught, for the batch's other grading processes, then its report.
            fresh = grader.reached_verdicts()
            if fresh:
                channel.send(("verdicts", pickle.dumps(fresh, protocol=pickle.HIGHEST_PROTOCOL)))
            channel.send(("report", report.to_dict()))

        def jobs() -> Iterator[Job]:
            nonlocal channel, setup
            # Asked for the first job once the checks are collected and their plans recorded: what this
            # process holds from here on (torch, pytest, the checks, the solutions, ~200,000 objects) is
            # set aside from the cyclic collector, whose full collections walked all of it a few times a
            # class (2 ms of CPU per student, measured). Freed by then: what collecting left behind.
            gc.collect()
            gc.freeze()
            mine = _fork_others(others, forked)
            if mine is not None:  # a fork: from here on a grading process of its own, on its own channels
                channel.close()
                channel, control = mine
                setup = _own_setup(channel, setup)
                grader.switch_zygote(Zygote.adopt(control))  # its own control channel, not the first one's
            while True:
                channel.send(("next", None))
                submission = receive_submission(channel, learn)
                if submission is None:
                    return
                yield Job(submission, setup.assignment.names)

        zygote = Zygote.adopt(controls[0])
        with Grader(setup.assignment, limits=setup.limits, zygote=zygote, scratch=Path(setup.scratch)) as grader:
            grader.share_verdicts()
            grader.run(
                jobs(),
                reported,
                lambda job, why: channel.send(("lost", (job.submission.name, why))),
            )
    except (EOFError, BrokenPipeError, ConnectionResetError):
        # The parent is gone (killed): nobody to report to, and nobody left to
        # remove the round's scratch folder but the last grading process out.
        with contextlib.suppress(OSError):
            Path(setup.scratch).rmdir()
        return
    except GraderError as exc:
        channel.send(("error", exc.message))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which retries
        channel.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        _close(others)  # not forked (this one failed first): the parent sees their channels close
        for pid in forked:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    channel.send(("done", None))


def _settle(setup: Setup) -> None:
    """Take this grading process's place: the parent's temporary folder, and its CPU."""
    tempfile.tempdir = setup.tempdir
    if setup.cpu is not None:
        with contextlib.suppress(OSError, ValueError):
            os.sched_setaffinity(0, {setup.cpu})


def _fork_others(
    others: list[tuple[Connection, socket.socket]], forked: list[int]
) -> tuple[Connection, socket.socket] | None:
    """Fork a grading process for each of ``others`` (its channel, its control channel); in a fork, its pair.

    Called before the first submission is asked for: each fork starts with
    the checks collected and their plans recorded, and with nothing learned
    of any submission, as if it had done that itself. Returns None in this
    process, which lists the forks' pids in ``forked`` and closes what it
    handed over. A fork that fails leaves its channel closed: the parent
    hands its share to the others.
    """
    mine = None
    for pair in others:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            forked.clear()  # the first one's children, not this one's
            mine = pair
            break
        forked.append(pid)
    _close([pair for pair in others if pair is not mine])
    others.clear()
    return mine


def _own_setup(channel: Connection, first: Setup) -> Setup:
    """The ``Setup`` the parent sent a forked grading process, settled in: only its CPU may differ from the first's."""
    setup = channel.recv()
    if not isinstance(setup, Setup) or dataclasses.replace(setup, cpu=None) != dataclasses.replace(first, cpu=None):
        raise GraderError("a grading process was sent another set-up than the one it was forked with")
    _settle(setup)
    return setup


def _close(pairs: Sequence[tuple[Connection, socket.socket]]) -> None:
    for other_channel, other_control in pairs:
        other_channel.close()
        other_control.close()
