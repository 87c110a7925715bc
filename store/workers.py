"""Live workers: each one says every few seconds how many browser sessions it runs at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.process_names import gone_from_here
from store.models import WorkerSlots, as_utc, utcnow

HEARTBEAT_S = 2.0
STALE_AFTER = timedelta(seconds=8)
"""A worker silent this long is not counted: its slots leave the capacity."""
FORGET_AFTER = timedelta(seconds=30)
"""A worker silent this long (it died without withdrawing) is forgotten; until then /health
reports it lost."""


def gone_here(workers: list[WorkerSlots]) -> list[WorkerSlots]:
    """Those of `workers` that ran on this machine and whose process has ended (their names
    tell, core.process_names): judged now, without waiting for their heartbeats to stop."""
    return [worker for worker in workers if gone_from_here(worker.worker_id)]


def fresh_since() -> datetime:
    """A worker whose last heartbeat is after this moment is live; at or before, lost."""
    return utcnow() - STALE_AFTER


@dataclass(frozen=True)
class Census:
    """The workers as their heartbeats tell: the live ones, and those lost without a word."""

    live: list[WorkerSlots]
    lost: list[WorkerSlots]

    @property
    def capacity(self) -> int:
        return sum(worker.max_sessions for worker in self.live)

    @property
    def sessions_in_use(self) -> int:
        return sum(worker.sessions_in_use for worker in self.live)


class WorkerRegistry:
    """The hosts' capacity: WORKER_MAX_SESSIONS summed over the workers that are alive."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def beat(self, worker_id: str, max_sessions: int, in_use: int = 0) -> None:
        """The worker is alive with this many sessions, `in_use` of them open; long-dead
        workers are forgotten."""
        now = utcnow()
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(WorkerSlots)
                .where(col(WorkerSlots.worker_id) == worker_id)
                .values(max_sessions=max_sessions, sessions_in_use=in_use, heartbeat_at=now)
            )
            if not changed.rowcount:
                session.add(
                    WorkerSlots(
                        worker_id=worker_id,
                        max_sessions=max_sessions,
                        sessions_in_use=in_use,
                        heartbeat_at=now,
                    )
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

    async def mark_lost(self, worker_id: str) -> None:
        """A run found the worker dead: its slots leave the capacity now, and it reads as lost
        until forgotten (a worker that was only slow is live again at its next heartbeat)."""
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(WorkerSlots)
                .where(col(WorkerSlots.worker_id) == worker_id)
                .values(heartbeat_at=fresh_since())
            )
            await session.commit()

    async def capacity(self) -> int:
        """Sessions all live workers can run at once."""
        async with self.session() as session:
            total = await session.exec(
                select(func.coalesce(func.sum(WorkerSlots.max_sessions), 0)).where(
                    col(WorkerSlots.heartbeat_at) > fresh_since()
                )
            )
            return int(total.one())

    async def census(self) -> Census:
        """Every remembered worker, live or lost."""
        async with self.session() as session:
            rows = list((await session.exec(select(WorkerSlots))).all())
        since = fresh_since()
        return Census(
            live=[row for row in rows if as_utc(row.heartbeat_at) > since],
            lost=[row for row in rows if as_utc(row.heartbeat_at) <= since],
        )
