"""The queue's one order: a project's waiting runs by priority key, then arrival.

A run is *queued* while it is waiting and not yet admitted; its position is 1 + the queued runs
of its project that come before it in that order. Queueing takes the project's lock, so runs
queued at the same moment get consecutive positions, and a position only falls as runs ahead
start or leave (or rises when a higher-priority run arrives ahead of it).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, case, func, insert, union_all, update
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.limits import ProjectLimits, limits_of
from core.run_state import UNFINISHED_STATES, RunState
from store import run_transitions
from store.models import Project, Run, utcnow
from store.new_runs import NewRun

PRIORITY_KEYS = {"live": 1, "regular": 3, "scheduled": 4}
"""A lower key runs first (the same keys as Temporal's task queue priority)."""


def is_queued(runs: Any = Run) -> Any:
    """The condition of a queued run: waiting and not yet admitted (`runs`: Run or an alias)."""
    return (runs.state == RunState.WAITING) & col(runs.admitted_at).is_(None)


def queued_of(project_id: Any, runs: Any = Run) -> Any:
    """The condition of a queued run of the project (a value, or a column to correlate with)."""
    return (runs.project_id == project_id) & is_queued(runs)


def awaits_handover(runs: Any = Run) -> Any:
    """A successor waiting for its slot (dispatch.successors): admitted, but still in its
    project's line (`runs`: Run or an alias)."""
    return (runs.state == RunState.WAITING) & col(runs.successor_of).is_not(None)


def in_line(runs: Any = Run) -> Any:
    """A run with a position: queued, or a successor waiting for its slot."""
    return is_queued(runs) | awaits_handover(runs)


def _ahead_count(project_id: Any, priority_key: Any, row_id: Any) -> Any:
    """How many runs of the project's line come before (priority_key, row_id): those of a
    higher priority plus those of the same priority that arrived earlier, queued (two index
    range counts) or successors waiting for their slots (a handful). The arguments are
    values, or columns of the outer query (correlated)."""
    other = _OTHER
    ahead = (other.priority_key < priority_key) | (
        (other.priority_key == priority_key) & (col(other.id) < row_id)
    )
    mine = queued_of(project_id, other)
    higher = select(func.count()).where(mine, other.priority_key < priority_key)
    earlier = select(func.count()).where(
        mine, other.priority_key == priority_key, col(other.id) < row_id
    )
    successors = select(func.count()).where(
        other.project_id == project_id, awaits_handover(other), ahead
    )
    return higher.scalar_subquery() + earlier.scalar_subquery() + successors.scalar_subquery()


@functools.cache
def position_column() -> Any:
    """The position of each selected run as a column (NULL unless it is in its project's
    line); built once, as building it costs milliseconds."""
    ahead = _ahead_count(col(Run.project_id), col(Run.priority_key), col(Run.id))
    return case((in_line(), ahead + 1), else_=None)


_OTHER = aliased(Run)
RUN_TABLE = cast(Table, Run.__table__)  # type: ignore[attr-defined]


QUEUE_ORDER = (col(Run.priority_key), col(Run.id))


async def lock_project(session: AsyncSession, project_id: int) -> None:
    """Serialise queue changes of one project: a row lock on PostgreSQL; on SQLite, the
    database's write lock, taken before anything is read (a transaction that reads first
    cannot write once another connection has)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.exec(select(Project.id).where(Project.id == project_id).with_for_update())
    else:
        await session.exec(  # type: ignore[call-overload]
            update(Project).where(col(Project.id) == project_id).values(paused=Project.paused)
        )


class QueueFull(LookupError):
    """Queueing these runs would take the project past its limit of waiting runs."""

    def __init__(self, project_id: int, waiting: int, limit: int, asked: int) -> None:
        super().__init__(
            f"project {project_id} has {waiting} waiting runs; {asked} more would exceed its "
            f"limit of {limit}"
        )
        self.limit = limit


class RunQueue:
    """Adds runs to projects' queues and tells where a run stands, in the caller's session
    (a request holds one connection, never two)."""

    @staticmethod
    async def refusals(
        session: AsyncSession, groups: Sequence[Sequence[NewRun]], defaults: ProjectLimits
    ) -> list[QueueFull | None]:
        """For each group of runs (one request's, queued all or nothing), in order: None if it
        fits within its project's limit of waiting runs after the groups before it, else why
        not. Takes the projects' locks, so call it in the transaction that then queues."""
        project_ids = sorted({run.project_id for group in groups for run in group})
        if not project_ids:
            return [None] * len(groups)
        for project_id in project_ids:
            await lock_project(session, project_id)
        found = await session.exec(
            select(Project.id, Project.limits).where(col(Project.id).in_(project_ids))
        )
        limit = {key: limits_of(defaults, dict(given or {})).max_waiting for key, given in found}
        counted = await session.exec(
            select(Run.project_id, func.count())
            .where(col(Run.project_id).in_(project_ids), is_queued())
            .group_by(col(Run.project_id))
        )
        waiting = Counter({key: int(count) for key, count in counted.all()})
        refusals: list[QueueFull | None] = []
        for group in groups:
            asked = Counter(run.project_id for run in group)
            over = [key for key, n in asked.items() if waiting[key] + n > limit.get(key, 0)]
            if over:
                key = over[0]
                refusals.append(QueueFull(key, waiting[key], limit.get(key, 0), asked[key]))
            else:
                waiting.update(asked)
                refusals.append(None)
        return refusals

    async def enqueue(self, session: AsyncSession, runs: Sequence[NewRun]) -> list[int]:
        """Store new runs (of one or several projects) and commit; their positions.

        Runs of the same project and priority get consecutive positions in the given order.
        One multi-row insert, then one count per project: ORM objects cost ten times more.
        """
        project_ids = sorted({run.project_id for run in runs})
        for project_id in project_ids:
            await lock_project(session, project_id)
        keys = [PRIORITY_KEYS.get(run.priority, 3) for run in runs]
        now = utcnow()
        rows = [
            run_transitions.waiting_row(run.row(key, now))
            for run, key in zip(runs, keys, strict=True)
        ]
        await session.exec(insert(RUN_TABLE), params=rows)
        queued = {
            project_id: await _queued_by_key(session, project_id) for project_id in project_ids
        }
        await session.commit()
        return _positions_of_new([run.project_id for run in runs], keys, queued)

    @staticmethod
    async def cancel_waiting(session: AsyncSession, job_id: str) -> bool:
        """Take a waiting run out of the queue at once (and commit); False if it is no longer
        waiting."""
        return await run_transitions.cancel_waiting(session, job_id)

    @staticmethod
    async def counts(session: AsyncSession, project_id: int) -> dict[str, int]:
        """Runs of the project by state. `active` counts the runs in a browser: a run whose
        context has closed, in the moment it takes to record its result, is in no count (its
        slot may be the next run's already, and max_parallel holds for what is shown)."""
        recording = col(Run.state).in_(UNFINISHED_STATES) & col(Run.slot_freed_at).is_not(None)
        rows = await session.exec(
            select(Run.state, func.count())
            .where(Run.project_id == project_id, ~recording)
            .group_by(Run.state)
        )
        return {state: int(count) for state, count in rows.all()}


async def _queued_by_key(session: AsyncSession, project_id: int) -> dict[int, int]:
    """The project's runs in line, counted by priority key (queued runs and successors
    apart: each count reads its own index)."""
    found: Counter[int] = Counter()
    for kind in (is_queued(), awaits_handover()):
        rows = await session.exec(
            select(col(Run.priority_key), func.count())
            .where(Run.project_id == project_id, kind)
            .group_by(col(Run.priority_key))
        )
        found.update({int(key): int(count) for key, count in rows.all()})
    return dict(found)


def _positions_of_new(
    project_ids: Sequence[int], keys: Sequence[int], queued: dict[int, dict[int, int]]
) -> list[int]:
    """Positions of runs just inserted (newer than every queued run), from the counts of
    queued runs by key taken after the insert: those ahead of a new run are the older runs of
    its key or a lower one, plus the batch's own runs of a lower key or earlier in the batch."""
    mine: dict[int, Counter[int]] = {}
    for project_id, key in zip(project_ids, keys, strict=True):
        mine.setdefault(project_id, Counter())[key] += 1
    seen: Counter[tuple[int, int]] = Counter()
    positions = []
    for project_id, key in zip(project_ids, keys, strict=True):
        counts, new = queued[project_id], mine[project_id]
        older = sum(n for k, n in counts.items() if k <= key) - sum(
            n for k, n in new.items() if k <= key
        )
        new_ahead = sum(n for k, n in new.items() if k < key)
        seen[project_id, key] += 1
        positions.append(older + new_ahead + seen[project_id, key])
    return positions


async def queue_heads(session: AsyncSession, depth: int) -> list[tuple[str, int, int]]:
    """(job ID, project ID, position) of the first `depth` runs in every project's line."""
    columns = (col(Run.job_id), col(Run.project_id), col(Run.priority_key), col(Run.id))
    line = union_all(
        select(*columns).where(is_queued()), select(*columns).where(awaits_handover())
    ).subquery()
    position = (
        func.row_number()
        .over(partition_by=line.c.project_id, order_by=(line.c.priority_key, line.c.id))
        .label("position")
    )
    ranked = select(line.c.job_id, line.c.project_id, position).subquery()
    found = await session.exec(
        select(ranked.c.job_id, ranked.c.project_id, ranked.c.position).where(
            ranked.c.position <= depth
        )
    )
    return [(job, project, int(pos)) for job, project, pos in found.all()]


async def queued_page(
    session: AsyncSession, project_id: int, offset: int, limit: int
) -> list[tuple[int, Run]]:
    """A page of the project's runs in line, in queue order, each with its position."""
    found = await session.exec(
        select(Run)
        .where(Run.project_id == project_id, in_line())
        .order_by(*QUEUE_ORDER)
        .offset(offset)
        .limit(limit)
    )
    return [(offset + index + 1, run) for index, run in enumerate(found.all())]


async def queued_count(session: AsyncSession, project_id: int) -> int:
    """How many of the project's runs are in line (queued, or successors waiting for their
    slots)."""
    total = 0
    for kind in (is_queued(), awaits_handover()):
        found = await session.exec(
            select(func.count()).select_from(Run).where(Run.project_id == project_id, kind)
        )
        total += int(found.one())
    return total
