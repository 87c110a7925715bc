"""Live workers: each one says every few seconds how many browser sessions it runs at once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import WorkerSlots, utcnow

HEARTBEAT_S = 5.0
STALE_AFTER = timedelta(seconds=15)
FORGET_AFTER = timedelta(hours=1)


class WorkerRegistry:
    """The hosts' capacity: WORKER_MAX_SESSIONS summed over the workers that are alive."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def beat(self, worker_id: str, max_sessions: int) -> None:
        """The worker is alive with this many sessions; long-dead workers are forgotten."""
        now = utcnow()
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(WorkerSlots)
                .where(col(WorkerSlots.worker_id) == worker_id)
                .values(max_sessions=max_sessions, heartbeat_at=now)
            )
            if not changed.rowcount:
                session.add(
                    WorkerSlots(worker_id=worker_id, max_sessions=max_sessions, heartbeat_at=now)
                )
            await session.exec(  # type: ignore[call-overload]
                delete(WorkerSlots).where(col(WorkerSlots.heartbeat_at) < now - FORGET_AFTER)
            )
            await session.commit()

    async def remove(self, worker_id: str) -> None:
        """The worker stops taking runs (draining or stopped)."""
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                delete(WorkerSlots).where(col(WorkerSlots.worker_id) == worker_id)
            )
            await session.commit()

    async def capacity(self) -> int:
        """Sessions all live workers can run at once."""
        async with self.session() as session:
            total = await session.exec(
                select(func.coalesce(func.sum(WorkerSlots.max_sessions), 0)).where(
                    col(WorkerSlots.heartbeat_at) > utcnow() - STALE_AFTER
                )
            )
            return int(total.one())
