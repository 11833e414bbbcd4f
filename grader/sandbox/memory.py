"""The zygote's memory on 2 MiB pages, so that each fork and each worker's exit costs less.

A fork copies one page-table entry for every 4 KiB page of the parent's
anonymous memory, and the child's exit tears each of them down again: with
torch imported, about 150 MiB, 38,000 entries per worker. Memory on a
transparent huge page is one entry for 2 MiB. glibc's heap is there already
(``glibc.malloc.hugetlb=1`` in the zygote's environment); Python's own object
arenas are plain ``mmap`` calls and are not, so the zygote asks the kernel to
collapse them, once (``MADV_COLLAPSE``, Linux 6.1+).

Collapsing copies those arenas: 15-90 ms of CPU once, measured here, against
about 1.5 ms saved per worker (its exit, and the zygote's fork). So the
zygote collapses only once it has forked ``WORTH_IT_AFTER_FORKS`` workers: a
class is being graded, and it will likely fork as many again. A student's
``grader check`` never pays for it.

A worker that writes to such a page still copies only the 4 KiB it writes:
the kernel splits the huge page's entry in the child alone. Its own new
memory is on ordinary pages (``isolation.disable_huge_pages``): on huge
pages, what a student's allocations cost would depend on the state of the
machine's memory. The zygote's own
writes, while workers share its memory, split some ranges again in the zygote
(measured: of about 44 MiB collapsed, 16 to 22 MiB stay on huge pages). It
collapses before a fork, not after: next to a worker that has just started,
most of the collapse was lost in one run of five. Only ranges
that are at least half resident are collapsed, so the zygote grows by a few
hundred KiB at most. Where the kernel cannot (older kernels, THP disabled),
nothing changes and nothing fails.
"""

from __future__ import annotations

import ctypes
import resource
from collections.abc import Callable
from dataclasses import dataclass

from grader.sandbox.libc import LIBC

__all__ = [
    "WORTH_IT_AFTER_FORKS",
    "Collapsed",
    "ForkCounter",
    "anonymous_regions",
    "collapse_huge_pages",
    "resident_kib",
]

#: The zygote collapses its memory after this many forks (the cost over the saving per fork, about 30).
WORTH_IT_AFTER_FORKS = 32
HUGE_PAGE = 2 * 1024 * 1024
_PAGE = 4096
_MADV_COLLAPSE = 25  # the same number on x86_64 and aarch64


@dataclass(frozen=True)
class Collapsed:
    """What ``collapse_huge_pages`` did: 2 MiB ranges now on huge pages, and those the kernel refused."""

    ranges: int
    refused: int


def anonymous_regions(maps: str | None = None) -> list[tuple[int, int]]:
    """This process's private, writable, anonymous mappings (the heap included, not the stack), as (start, end)."""
    if maps is None:
        with open("/proc/self/maps") as f:
            maps = f.read()
    regions = []
    for line in maps.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[1] != "rw-p" or (len(fields) > 5 and fields[5] != "[heap]"):
            continue
        start, end = (int(x, 16) for x in fields[0].split("-"))
        regions.append((start, end))
    return regions


def collapse_huge_pages(regions: list[tuple[int, int]] | None = None) -> Collapsed:
    """Put each mostly resident, aligned 2 MiB range of ``regions`` (default: all anonymous memory) on a huge page."""
    if LIBC is None:
        return Collapsed(0, 0)
    try:
        regions = anonymous_regions() if regions is None else regions
    except OSError:
        return Collapsed(0, 0)
    madvise, mincore = LIBC.madvise, LIBC.mincore
    collapsed = refused = 0
    residency = (ctypes.c_ubyte * (HUGE_PAGE // _PAGE))()
    for start, end in regions:
        for address in range(-(-start // HUGE_PAGE) * HUGE_PAGE, end - HUGE_PAGE + 1, HUGE_PAGE):
            if mincore(ctypes.c_void_p(address), ctypes.c_size_t(HUGE_PAGE), residency) != 0:
                continue
            if 2 * bytes(residency).count(1) < len(residency):
                continue  # mostly never touched: a huge page would only make the zygote bigger
            if madvise(ctypes.c_void_p(address), ctypes.c_size_t(HUGE_PAGE), ctypes.c_int(_MADV_COLLAPSE)) == 0:
                collapsed += 1
            else:
                refused += 1
    return Collapsed(collapsed, refused)


class ForkCounter:
    """Counts the zygote's forks and collapses its memory once, after the ``after``-th."""

    def __init__(
        self, after: int = WORTH_IT_AFTER_FORKS, collapse: Callable[[], Collapsed] = collapse_huge_pages
    ) -> None:
        self.after = after
        self.forks = 0
        self._collapse = collapse

    def forked(self) -> Collapsed | None:
        """Count one fork; what the collapse did, when this fork was the one that triggered it."""
        self.forks += 1
        return self._collapse() if self.forks == self.after else None


def resident_kib(pid: int | None = None) -> int | None:
    """A process's resident memory now, in KiB (``/proc/<pid>/statm``): this one's by default; None if unreadable."""
    try:
        with open(f"/proc/{pid or 'self'}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() // 1024
    except (OSError, ValueError, IndexError):
        return None
