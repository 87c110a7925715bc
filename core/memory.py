"""Memory of a long-lived process: start-up objects kept out of the collector's way, and
memory given back after a burst (the heap keeps the pages a thousand simultaneous requests
needed, though the objects on them are gone)."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging

import psutil

log = logging.getLogger(__name__)
CHECK_EVERY_S = 2.0
GROWTH_TO_TRIM = 1.05
"""Trim when the resident size is 5 % above its size at start."""


def freeze_start_up_objects() -> None:
    """Objects made at start-up live as long as the process: the cyclic collector need not
    walk them again in every full collection (a burst of requests triggers several, each
    costing tens of milliseconds otherwise)."""
    gc.collect()
    gc.freeze()


def _malloc_trim() -> ctypes._NamedFuncPointer | None:
    """glibc's malloc_trim, if this C library has one."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


class MemoryReturner:
    """Every few seconds: if the process grew since start, collect garbage and hand the C
    heap's free pages back to the system. Objects over 512 bytes and C extensions' buffers
    live there; Python's small objects live in arenas that go back only once empty. (The
    service runs the API with jemalloc for all objects, devstack/allocator.py, which gives
    pages back by itself; this trim then finds glibc's heap nearly empty.)"""

    def __init__(self) -> None:
        self._process = psutil.Process()
        self._trim = _malloc_trim()
        self._start_rss = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._start_rss = self._rss()
        if self._trim is not None:
            self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def release(self) -> int:
        """Collect and trim now; bytes given back."""
        before = self._rss()
        gc.collect()
        if self._trim is not None:
            self._trim(0)
        return before - self._rss()

    async def _watch(self) -> None:
        """Trim once a growth has stopped: the process is 5 % above its size at start, no
        bigger than at the last check, and 1 MiB bigger than after the last trim (growth that
        is live data is not trimmed again and again)."""
        floor = self._start_rss * GROWTH_TO_TRIM
        previous = after_last_trim = self._start_rss
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            rss = self._rss()
            settled = rss <= previous + 2**18
            if settled and rss > floor and rss > after_last_trim + 2**20:
                released = self.release()
                rss = after_last_trim = rss - released
                log.debug("gave back %d KiB", released // 1024)
            previous = rss

    def _rss(self) -> int:
        return int(self._process.memory_info().rss)
