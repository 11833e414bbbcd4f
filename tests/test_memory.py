"""The zygote's memory on huge pages: what is collapsed, and that nothing in it changes."""

from __future__ import annotations

import ctypes
import mmap
import re

import pytest

from grader.sandbox import memory
from grader.sandbox.client import Zygote
from grader.sandbox.limits import Limits
from grader.sandbox.runner import Worker
from grader.sandbox.scratch import make_root, remove_tree

MAPS = """\
55d0c3a00000-55d0c3c00000 rw-p 00000000 00:00 0                          [heap]
7f0000000000-7f0000400000 rw-p 00000000 00:00 0
7f0000400000-7f0000600000 r--p 00000000 00:00 0
7f0000600000-7f0000800000 rw-p 00001000 fe:00 1234                       /usr/lib/libpython3.11.so.1.0
7f0000800000-7f0000a00000 rw-s 00000000 00:01 99                         /dev/zero (deleted)
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
"""


def test_only_private_writable_anonymous_memory_and_the_heap_are_candidates() -> None:
    assert memory.anonymous_regions(MAPS) == [(0x55D0C3A00000, 0x55D0C3C00000), (0x7F0000000000, 0x7F0000400000)]


def _region(size: int) -> tuple[mmap.mmap, int]:
    area = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    anchor = ctypes.c_char.from_buffer(area)
    address = ctypes.addressof(anchor)
    del anchor  # the mmap may be closed again
    return area, address


def _huge_kib(start: int, end: int) -> int:
    """AnonHugePages of the mapping that holds [start, end)."""
    with open("/proc/self/smaps") as f:
        text = f.read()
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        low, high = (int(x, 16) for x in block.split()[0].split("-"))
        if low <= start and end <= high:
            found = re.search(r"^AnonHugePages:\s+(\d+) kB", block, re.M)
            return int(found.group(1)) if found else 0
    raise AssertionError("mapping not found")


def test_a_resident_region_is_collapsed_and_keeps_every_byte() -> None:
    size = 8 * memory.HUGE_PAGE  # at least seven aligned 2 MiB ranges, wherever it lands
    area, start = _region(size)
    try:
        pattern = bytes(range(251)) * (size // 251) + bytes(size % 251)
        area[:] = pattern
        done = memory.collapse_huge_pages([(start, start + size)])
        assert done.ranges + done.refused >= 7
        assert area[:] == pattern
        if done.ranges == 0:
            pytest.skip(f"this kernel collapses no huge pages (refused {done.refused} ranges)")
        assert _huge_kib(start, start + size) >= done.ranges * 2048
    finally:
        area.close()


def test_an_untouched_region_is_left_alone() -> None:
    size = 4 * memory.HUGE_PAGE
    area, start = _region(size)
    try:
        area[0:1] = b"x"  # one page of 2,048 resident
        assert memory.collapse_huge_pages([(start, start + size)]) == memory.Collapsed(0, 0)
        assert _huge_kib(start, start + size) == 0
    finally:
        area.close()


def test_the_zygote_collapses_once_after_the_forks_that_make_it_worth_it() -> None:
    done = memory.Collapsed(3, 1)
    calls: list[int] = []

    def collapse() -> memory.Collapsed:
        calls.append(1)
        return done

    counter = memory.ForkCounter(after=3, collapse=collapse)
    assert [counter.forked() for _ in range(6)] == [None, None, done, None, None, None]
    assert len(calls) == 1
    assert memory.ForkCounter().after == memory.WORTH_IT_AFTER_FORKS > 1  # a single student never pays for it


def test_a_zygote_grading_a_class_holds_more_of_its_memory_on_huge_pages() -> None:
    probe, start = _region(4 * memory.HUGE_PAGE)
    try:
        probe[:] = b"x" * len(probe)
        if memory.collapse_huge_pages([(start, start + len(probe))]).ranges == 0:
            pytest.skip("this kernel collapses no huge pages")
    finally:
        probe.close()
    scratch = make_root("grader-test-")
    try:
        with Zygote().start() as zygote:
            assert zygote.pid is not None
            Worker(zygote, scratch_root=scratch, limits=Limits()).kill()
            before = _zygote_huge_kib(zygote.pid)
            for _ in range(memory.WORTH_IT_AFTER_FORKS - 1):
                Worker(zygote, scratch_root=scratch, limits=Limits()).kill()
            after = _zygote_huge_kib(zygote.pid)
    finally:
        remove_tree(scratch)
    assert after >= before + 2048


def _zygote_huge_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        found = re.search(r"^AnonHugePages:\s+(\d+) kB", f.read(), re.M)
    return int(found.group(1)) if found else 0


def test_a_worker_gets_its_new_memory_on_ordinary_pages_while_the_zygote_keeps_huge_ones() -> None:
    # A huge page is zeroed whole at first touch, or found by compacting memory: what a student's
    # large buffer costs would depend on the machine's fragmentation (``isolation.disable_huge_pages``).
    scratch = make_root("grader-test-")
    try:
        with Zygote().start() as zygote:
            assert zygote.pid is not None
            worker = Worker(zygote, scratch_root=scratch, limits=Limits())
            try:
                ours = _thp_enabled(worker.pid)
                zygotes = _thp_enabled(zygote.pid)
            finally:
                worker.kill()
    finally:
        remove_tree(scratch)
    if ours is None or zygotes is None:
        pytest.skip("this kernel does not show THP_enabled in /proc/<pid>/status")
    assert (ours, zygotes) == (0, 1)


def _thp_enabled(pid: int) -> int | None:
    with open(f"/proc/{pid}/status") as f:
        found = re.search(r"^THP_enabled:\s+(\d+)", f.read(), re.M)
    return int(found.group(1)) if found else None
