"""The one way runs enter the queue (API runs, suites, retries, schedule fires): group commit,
positions, then the `queued` event and the dispatcher's wake-up for each committed batch.

Requests that arrive while a write is in progress are written together in the next
transaction, by one writer with a connection of its own.

One writer means no lock contention between a process's own requests (SQLite has a single
write lock, and its busy handler sleeps), and one commit serves a whole burst. Run requests
that carry only a token and a test ID are resolved together too: one read for the whole batch
instead of a session and three queries per request. Nothing waits for a timer: an idle queue
writes a lone request at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.limits import ProjectLimits
from dispatch.announce import announce_queued
from dispatch.new_runs import TestRunOrder, runs_for_orders
from live.publisher import EventPublisher
from store.db import release_cache
from store.new_runs import NewRun
from store.queue import QueueFull, RunQueue

log = logging.getLogger(__name__)
MAX_BATCH = 1000
RELEASE_AFTER_S = 1.0
"""How long the writer waits for more orders before it gives back its connection's cache (a
lone request then does not find the cache cold)."""

Order = Sequence[NewRun] | TestRunOrder
"""What a caller queues: runs it has built, or one run of a test by token."""


class GroupCommit:
    """Writes queued runs in batches; each caller gets its runs' positions. Each committed
    batch is announced on `events` and wakes the dispatcher (`wake`); `after_commit` gets its
    projects first (the API forgets their cached counts)."""

    def __init__(
        self,
        engine: AsyncEngine,
        queue: RunQueue,
        events: EventPublisher,
        wake: Callable[[], None],
        after_commit: Callable[[set[int]], Awaitable[None]] | None = None,
        reader: AsyncEngine | None = None,
        limits: ProjectLimits | None = None,
    ) -> None:
        self._engine = engine
        self._events = events
        self._wake = wake
        self._limits = limits or ProjectLimits()
        self._reader = reader or engine
        self._queue = queue
        self._after_commit = after_commit
        self._pending: list[tuple[Order, asyncio.Future[list[tuple[NewRun, int]]]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    async def enqueue(self, runs: Sequence[NewRun]) -> list[int]:
        """Queue the runs (in one transaction with whatever else is waiting); their positions."""
        return [position for _run, position in await self._submit(runs)]

    async def enqueue_order(self, order: TestRunOrder) -> tuple[NewRun, int]:
        """Queue the run a token asks for; the run and its position. Raises TokenUnknown,
        TestMissing or AuthFlowMissing if it cannot be queued."""
        [queued] = await self._submit(order)
        return queued

    async def idle(self) -> None:
        """Wait until everything queued so far is written and the writer has finished (it
        stops RELEASE_AFTER_S after the last order)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer])

    async def _submit(self, order: Order) -> list[tuple[NewRun, int]]:
        done: asyncio.Future[list[tuple[NewRun, int]]] = asyncio.get_running_loop().create_future()
        self._pending.append((order, done))
        self._arrived.set()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await done

    async def _write_all(self) -> None:
        """Write batches while orders come; RELEASE_AFTER_S after the last one, give back the
        connection's cache and stop (or go on, if orders came meanwhile)."""
        while True:
            while await self._orders_within(RELEASE_AFTER_S):
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    await self._write(batch)
                except Exception as error:
                    for _order, done in batch:
                        if not done.done():
                            done.set_exception(error)
            await self._release_cache()
            if not self._pending:
                return

    async def _orders_within(self, timeout: float) -> bool:
        """Whether orders are waiting, or arrive within timeout s."""
        if self._pending:
            return True
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except TimeoutError:
            return bool(self._pending)
        return True

    async def _release_cache(self) -> None:
        """The writer's connection gives back the pages it cached (after a burst of a thousand
        runs, a MiB that the API would otherwise keep for its lifetime)."""
        try:
            await release_cache(self._engine)
        except Exception as error:  # only memory is at stake
            log.warning("could not release the writer's cache: %s", error)

    async def _write(
        self, batch: list[tuple[Order, asyncio.Future[list[tuple[NewRun, int]]]]]
    ) -> None:
        """Resolve the batch's orders, store every run in one transaction, answer each caller."""
        resolved = await self._resolve([order for order, _ in batch])
        runs_of: list[list[NewRun]] = []
        for (_order, done), runs in zip(batch, resolved, strict=True):
            if isinstance(runs, LookupError):
                done.set_exception(runs)
                runs_of.append([])
            else:
                runs_of.append(runs)
        refusals, stored = await self._store(runs_of)
        positions = iter(stored)
        for (_order, done), refusal in zip(batch, refusals, strict=True):
            if refusal is not None and not done.done():
                done.set_exception(refusal)
        runs_of = [[] if refusal else own for own, refusal in zip(runs_of, refusals, strict=True)]
        runs = [run for runs in runs_of for run in runs]
        if runs and self._after_commit is not None:  # once per batch, before anyone is answered
            try:
                await self._after_commit({run.project_id for run in runs})
            except Exception as error:  # the runs are queued; only a cache may be stale
                log.warning("after-commit hook failed: %s", error)
        answers = [[(run, next(positions)) for run in own] for own in runs_of]
        if runs:
            announce_queued(self._events, self._wake, [queued for own in answers for queued in own])
        for (_order, done), own_answer in zip(batch, answers, strict=True):
            if not done.done():
                done.set_result(own_answer)

    async def _store(self, groups: list[list[NewRun]]) -> tuple[list[QueueFull | None], list[int]]:
        """Queue every group that fits its project's limit of waiting runs, in one
        transaction: why each group was refused (None if queued), and the queued runs'
        positions."""
        if not any(groups):
            return [None] * len(groups), []
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            refusals = await self._queue.refusals(session, groups, self._limits)
            runs = [
                run for group, no in zip(groups, refusals, strict=True) if not no for run in group
            ]
            if not runs:
                await session.commit()
                return refusals, []
            return refusals, await self._queue.enqueue(session, runs)

    async def _resolve(self, orders: list[Order]) -> list[list[NewRun] | LookupError]:
        """Each order's runs, or why it has none: token orders in one read of their own (a
        read before the write would hold SQLite's snapshot and could not take the lock)."""
        by_token = [order for order in orders if isinstance(order, TestRunOrder)]
        found: list[NewRun | LookupError] = []
        if by_token:
            async with AsyncSession(self._reader, expire_on_commit=False) as session:
                found = await runs_for_orders(session, by_token)
        answers = iter(found)
        resolved: list[list[NewRun] | LookupError] = []
        for order in orders:
            if isinstance(order, TestRunOrder):
                answer = next(answers)
                resolved.append(answer if isinstance(answer, LookupError) else [answer])
            else:
                resolved.append(list(order))
        return resolved
