"""Session slots: a worker polls for new runs only while it has room for another context."""

from __future__ import annotations

import asyncio

from temporalio.worker import (
    CustomSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
)

from browser.handover import SlotHandovers
from browser.pool import BrowserPool


class SessionSlotSupplier(CustomSlotSupplier):
    """Grants an activity slot on the shared session queue only below WORKER_MAX_SESSIONS.

    Open contexts, slots promised to successors and outstanding permits all count, so a worker
    never opens more than `max_sessions` contexts, and a worker at capacity does not even poll:
    waiting runs stay in the task queue for whichever worker frees a slot first.
    """

    def __init__(self, pool: BrowserPool, handovers: SlotHandovers, max_sessions: int) -> None:
        self._pool = pool
        self._handovers = handovers
        self._max_sessions = max_sessions
        self._reserved = 0
        self._draining = False
        self._changed = asyncio.Event()
        pool.on_change(self._changed.set)
        handovers.on_change(self._changed.set)

    def _has_room(self) -> bool:
        taken = self._pool.open_count + self._handovers.promised + self._reserved
        return not self._draining and taken < self._max_sessions

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        """Block until a context may be opened, then hold a permit for it."""
        while not self._has_room():
            self._changed.clear()
            await self._changed.wait()
        self._reserved += 1
        return SlotPermit()

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        """Eager tasks get a slot only if one is free right now."""
        if not self._has_room():
            return None
        self._reserved += 1
        return SlotPermit()

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        """Nothing to do: the context is counted by the pool once it opens."""

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        """The open-session task finished (its context, if any, is now counted by the pool)."""
        self._reserved -= 1
        self._changed.set()

    def drain(self) -> None:
        """Grant no more slots: the worker is stopping."""
        self._draining = True
        self._changed.set()
