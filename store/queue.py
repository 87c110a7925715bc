"""The queue's one order: a project's waiting runs by priority key, then arrival.

A run is *queued* while it is waiting and not yet admitted; its position is 1 + the queued runs
of its project that come before it in that order. Queueing takes the project's lock, so runs
queued at the same moment get consecutive positions, and a position only falls as runs ahead
start or leave (or rises when a higher-priority run arrives ahead of it).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Project, Run, utcnow

PRIORITY_KEYS = {"live": 1, "regular": 3, "scheduled": 4}
"""A lower key runs first (the same keys as Temporal's task queue priority)."""

WAITING, ACTIVE = "waiting", "active"
FINAL_STATES = ("completed", "failed", "cancelled", "timed_out")


def _ahead_count(project_id: Any, priority_key: Any, run_id: Any) -> Any:
    """How many queued runs of the project come before (priority_key, run_id): those of a
    higher priority plus those of the same priority that arrived earlier (two index range
    counts). The arguments are values, or columns of the outer query (correlated)."""
    other = _OTHER
    mine = (
        (other.project_id == project_id)
        & (other.state == WAITING)
        & col(other.admitted_at).is_(None)
    )
    higher = select(func.count()).where(mine, other.priority_key < priority_key)
    earlier = select(func.count()).where(
        mine, other.priority_key == priority_key, col(other.id) < run_id
    )
    return higher.scalar_subquery() + earlier.scalar_subquery()


@functools.cache
def position_column() -> Any:
    """The position of each selected run as a column (NULL unless it is queued); built once,
    as building it costs milliseconds."""
    is_queued = (col(Run.state) == WAITING) & col(Run.admitted_at).is_(None)
    ahead = _ahead_count(col(Run.project_id), col(Run.priority_key), col(Run.id))
    return case((is_queued, ahead + 1), else_=None)


_OTHER = aliased(Run)


QUEUE_ORDER = (col(Run.priority_key), col(Run.id))


async def lock_project(session: AsyncSession, project_id: int) -> None:
    """Serialise queue changes of one project (a row lock on PostgreSQL; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(Project.id).where(Project.id == project_id).with_for_update())


async def count_ahead(session: AsyncSession, run: Run) -> int:
    """How many queued runs of the project come before `run`."""
    assert run.id is not None
    found = await session.exec(select(_ahead_count(run.project_id, run.priority_key, run.id)))
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


async def queue_heads(session: AsyncSession, depth: int) -> list[tuple[str, int, int]]:
    """(job ID, project ID, position) of the first `depth` queued runs of every project."""
    queued = (col(Run.state) == WAITING) & col(Run.admitted_at).is_(None)
    position = (
        func.row_number()
        .over(partition_by=col(Run.project_id), order_by=QUEUE_ORDER)
        .label("position")
    )
    ranked = select(col(Run.job_id), col(Run.project_id), position).where(queued).subquery()
    found = await session.exec(
        select(ranked.c.job_id, ranked.c.project_id, ranked.c.position).where(
            ranked.c.position <= depth
        )
    )
    return [(job, project, int(pos)) for job, project, pos in found.all()]
