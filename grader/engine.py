"""A batch's grading process: forked by the zygote, it grades the submissions its parent hands it.

The zygote forks it torch-warm (``Zygote.fork_engine``), so neither the
batch's parent nor the grading process pays for a torch import: only the
zygote does, once. Only after the fork does it load the checks and the
solutions. It talks to its parent over one channel, pickled both ways
(both ends are the grader's own code; no student object ever crosses it):

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


def serve(channel_fd: int, control: socket.socket) -> None:
    """Grade what the parent sends on ``channel_fd``, forking workers through ``control``."""
    channel = Connection(channel_fd)
    try:
        setup = channel.recv()
    except (EOFError, OSError):
        return  # the parent died before saying anything
    try:
        # Here, not at the top: the parent imports this module for ``Setup``
        # and must not import torch, which grading needs.
        from grader.grading import Grader
        from grader.plugin import Job

        tempfile.tempdir = setup.tempdir
        if setup.cpu is not None:
            with contextlib.suppress(OSError, ValueError):
                os.sched_setaffinity(0, {setup.cpu})

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
            # Asked for the first job once the checks are collected and their plans recorded: what this
            # process holds from here on (torch, pytest, the checks, the solutions, ~200,000 objects) is
            # set aside from the cyclic collector, whose full collections walked all of it a few times a
            # class (2 ms of CPU per student, measured). Freed by then: what collecting left behind.
            gc.collect()
            gc.freeze()
            while True:
                channel.send(("next", None))
                submission = receive_submission(channel, learn)
                if submission is None:
                    return
                yield Job(submission, setup.assignment.names)

        zygote = Zygote.adopt(control)
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
    channel.send(("done", None))
