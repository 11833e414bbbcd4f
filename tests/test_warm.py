"""The zygote's warm-up (``sandbox.warm``) leaves nothing a worker could tell apart from before."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from grader.sandbox import isolation, warm
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.runner import Worker


def test_the_warm_up_puts_every_random_generator_back() -> None:
    torch.manual_seed(5)
    random.seed(6)
    np.random.seed(7)
    before = torch.default_generator.get_state(), random.getstate(), np.random.get_state()
    warm.warm()
    assert torch.equal(torch.default_generator.get_state(), before[0])
    assert random.getstate() == before[1]
    after = np.random.get_state()
    assert after[0] == before[2][0] and np.array_equal(after[1], before[2][1]) and after[2:] == before[2][2:]


def test_the_warm_up_starts_no_thread_and_leaves_grad_mode_on() -> None:
    threads = isolation.thread_count()
    assert threads >= 1
    warm.warm()
    assert isolation.thread_count() == threads
    assert torch.is_grad_enabled()


def test_a_zygote_warmed_for_its_workers_runs_one_thread(tmp_path: Path) -> None:
    """The warm-up runs in the zygote, configured as workers are (one thread each for intra- and inter-op):
    a thread it left running would be missing in every forked worker, holding whatever lock it held."""
    with Zygote().start() as zygote:
        Worker(zygote, scratch_root=tmp_path, limits=Limits()).kill()  # forked: the zygote is ready, warmed
        assert zygote.pid is not None
        assert len(os.listdir(f"/proc/{zygote.pid}/task")) == 1
