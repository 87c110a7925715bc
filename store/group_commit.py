"""Group commit of queued runs: requests that arrive while a write is in progress are written
together in the next transaction, by one writer with a connection of its own.

One writer means no lock contention between a process's own requests (SQLite has a single
write lock, and its busy handler sleeps), and one commit serves a whole burst. Nothing waits
for a timer: an idle queue writes a lone request at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Run
from store.queue import RunQueue

log = logging.getLogger(__name__)
MAX_BATCH = 500


class GroupCommit:
    """Writes queued runs in batches; each caller gets its runs' positions. `after_commit`
    gets the projects of each committed batch (the API forgets their cached counts)."""

    def __init__(
        self,
        engine: AsyncEngine,
        queue: RunQueue,
        after_commit: Callable[[set[int]], Awaitable[None]] | None = None,
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._after_commit = after_commit
        self._pending: list[tuple[Sequence[Run], asyncio.Future[list[int]]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def enqueue(self, runs: Sequence[Run]) -> list[int]:
        """Queue the runs (in one transaction with whatever else is waiting); their positions."""
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append((runs, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await done

    async def _write_all(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                async with AsyncSession(self._engine, expire_on_commit=False) as session:
                    positions = await self._queue.enqueue(
                        session, [run for runs, _ in batch for run in runs]
                    )
            except Exception as error:
                for _runs, done in batch:
                    if not done.done():
                        done.set_exception(error)
                continue
            if self._after_commit is not None:  # once per batch, before anyone is answered
                try:
                    await self._after_commit({run.project_id for runs, _ in batch for run in runs})
                except Exception as error:  # the runs are queued; only a cache may be stale
                    log.warning("after-commit hook failed: %s", error)
            offset = 0
            for runs, done in batch:
                if not done.done():
                    done.set_result(positions[offset : offset + len(runs)])
                offset += len(runs)
