"""The queue's one order: a project's waiting runs by priority key, then arrival.

A run is *queued* while it is waiting and not yet admitted; its position is 1 + the queued runs
of its project that come before it in that order. Queueing takes the project's lock, so runs
queued at the same moment get consecutive positions, and a position only falls as runs ahead
start or leave (or rises when a higher-priority run arrives ahead of it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Project, Run, utcnow

PRIORITY_KEYS = {"live": 1, "regular": 3, "scheduled": 4}
"""A lower key runs first (the same keys as Temporal's task queue priority)."""

WAITING, ACTIVE = "waiting", "active"
FINAL_STATES = ("completed", "failed", "cancelled", "timed_out")


def queued(project_id: int) -> Any:
    """The runs of the project that wait for admission."""
    return (
        (col(Run.project_id) == project_id)
        & (col(Run.state) == WAITING)
        & col(Run.admitted_at).is_(None)
    )


QUEUE_ORDER = (col(Run.priority_key), col(Run.id))


async def lock_project(session: AsyncSession, project_id: int) -> None:
    """Serialise queue changes of one project (a row lock on PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(Project.id).where(Project.id == project_id).with_for_update())


async def count_ahead(session: AsyncSession, run: Run) -> int:
    """How many queued runs of the project come before `run`: those of a higher priority,
    and those of its priority that arrived earlier (two index range counts)."""
    assert run.id is not None
    mine = queued(run.project_id)
    higher = select(func.count()).where(mine, col(Run.priority_key) < run.priority_key)
    earlier = select(func.count()).where(
        mine, col(Run.priority_key) == run.priority_key, col(Run.id) < run.id
    )
    found = await session.exec(select(higher.scalar_subquery() + earlier.scalar_subquery()))
    return int(found.one())


class RunQueue:
    """Adds runs to projects' queues and tells where a run stands, in the caller's session
    (a request holds one connection, never two)."""

    async def enqueue(self, session: AsyncSession, runs: Sequence[Run]) -> list[int]:
        """Store new runs (of one or several projects) and commit; their positions.

        Runs of the same project and priority get consecutive positions in the given order.
        """
        for project_id in sorted({run.project_id for run in runs}):
            await lock_project(session, project_id)
        for run in runs:
            run.priority_key = PRIORITY_KEYS.get(run.priority, 3)
        session.add_all(runs)
        await session.flush()
        positions = await self._positions_of_new(session, runs)
        await session.commit()
        return positions

    @staticmethod
    async def _positions_of_new(session: AsyncSession, runs: Sequence[Run]) -> list[int]:
        """One count per (project, priority) group; the group's runs follow each other."""
        first_of_group: dict[tuple[int, int], Run] = {}
        for run in runs:
            first_of_group.setdefault((run.project_id, run.priority_key), run)
        ahead = {group: await count_ahead(session, run) for group, run in first_of_group.items()}
        seen: dict[tuple[int, int], int] = {}
        positions = []
        for run in runs:
            group = (run.project_id, run.priority_key)
            seen[group] = seen.get(group, 0) + 1
            positions.append(ahead[group] + seen[group])
        return positions

    @staticmethod
    async def position(session: AsyncSession, run: Run) -> int | None:
        """The run's current position; None once it has been admitted or has ended."""
        if run.state != WAITING or run.admitted_at is not None:
            return None
        return await count_ahead(session, run) + 1

    @staticmethod
    async def cancel_waiting(session: AsyncSession, job_id: str) -> bool:
        """Take a waiting run out of the queue at once (and commit); False if it is no longer
        waiting."""
        changed = await session.exec(  # type: ignore[call-overload]
            update(Run)
            .where(col(Run.job_id) == job_id, col(Run.state) == WAITING)
            .values(state="cancelled", finished_at=utcnow(), error="the run was cancelled")
        )
        await session.commit()
        return bool(changed.rowcount)

    @staticmethod
    async def counts(session: AsyncSession, project_id: int) -> dict[str, int]:
        """Runs of the project by state."""
        rows = await session.exec(
            select(Run.state, func.count()).where(Run.project_id == project_id).group_by(Run.state)
        )
        return {state: int(count) for state, count in rows.all()}
