"""Slot handovers: a successor waits on this worker for its predecessor's context to close, and
takes its slot at that moment (dispatch.successors).

From the moment the predecessor's context starts to close until the successor's is open, the
slot is *promised*: the session slot supplier counts it as taken, so no run from the shared
queue slips into it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from browser.pool import BrowserPool


class HandoverMissed(LookupError):
    """The predecessor's context is not open here (closed already, or the worker is stopping):
    the successor goes back in line for a new grant."""


@dataclass
class _Waiter:
    """A successor waiting for its predecessor's context to close."""

    closed: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    promised: bool = False


class SlotHandovers:
    """Successors waiting for their predecessors' slots on this worker."""

    def __init__(self, pool: BrowserPool) -> None:
        self._pool = pool
        self._waiting: dict[str, _Waiter] = {}
        self._listeners: list[Callable[[], None]] = []
        self._stopping = False
        self._handed: set[str] = set()
        self.promised = 0
        """Slots promised to successors whose context is not open yet."""
        pool.on_session_end(self._leaving, self._ended)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call listener whenever a promised slot is taken up or given back."""
        self._listeners.append(listener)

    @contextlib.asynccontextmanager
    async def slot_after(self, job_id: str) -> AsyncIterator[None]:
        """Wait until run `job_id`'s context has closed, then hold its slot while the body
        opens the successor's context; HandoverMissed at once if that context is not open
        here."""
        if self._stopping or job_id not in self._pool.open_runs():
            raise HandoverMissed(f"run {job_id} holds no context on this worker")
        self._replace(job_id)
        waiter = self._waiting[job_id] = _Waiter()
        try:
            await waiter.closed
            yield
        finally:
            if self._waiting.get(job_id) is waiter:
                del self._waiting[job_id]
            if waiter.promised:  # the successor's context is open now (or it gave up)
                self.promised -= 1
                self._changed()

    def _replace(self, job_id: str) -> None:
        """A new successor for the run: the one waiting before it was cancelled (its cancel
        reaches this worker with its next heartbeat), so it gives up now."""
        earlier = self._waiting.pop(job_id, None)
        if earlier is None or earlier.closed.done():
            return
        if earlier.promised:  # the slot is on its way to it: the new one looks elsewhere
            self._waiting[job_id] = earlier
            raise HandoverMissed(f"run {job_id}'s slot is being handed over")
        earlier.closed.set_exception(HandoverMissed(f"run {job_id} has a new successor"))

    def handed_over(self, job_id: str) -> bool:
        """Whether the run's slot went to a successor when its context closed (asked once)."""
        if job_id in self._handed:
            self._handed.discard(job_id)
            return True
        return False

    def _leaving(self, job_id: str) -> None:
        """A context starts to close: its slot stays taken for its successor, if one waits."""
        waiter = self._waiting.get(job_id)
        if waiter is not None and not waiter.promised and not waiter.closed.done():
            waiter.promised = True
            self.promised += 1

    def _ended(self, job_id: str) -> None:
        """A context has closed (or was lost): its successor may open its own now."""
        waiter = self._waiting.pop(job_id, None)
        if waiter is None or waiter.closed.done():
            return
        if len(self._handed) > 1000:  # runs whose close never asked (a lost browser)
            self._handed.clear()
        self._handed.add(job_id)
        waiter.closed.set_result(None)

    def stop(self) -> None:
        """The worker is stopping: waiting successors look for a slot elsewhere."""
        self._stopping = True
        for job_id, waiter in self._waiting.items():
            if not waiter.closed.done():
                waiter.closed.set_exception(
                    HandoverMissed(f"the worker holding {job_id} is stopping")
                )
        self._waiting.clear()

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
