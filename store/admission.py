"""What the dispatcher reads and writes to admit runs: free room, queue heads, marks, the lease.

A run is *admitted* when the dispatcher grants it a session slot (admitted_at); from then on it
counts against its project's max_parallel and the hosts' capacity until its browser context
closes (slot_freed_at, a moment before its result is recorded) or it ends. The
admission is *sent* once its workflow has received the grant (admission_sent).

A *successor* is admitted into a slot that a running run still holds (successor_of): it waits on
that run's worker and opens its context there as soon as that run's closes. Until then it takes
no capacity (the slot is counted once, for its holder), nor room in its project if its
predecessor is of the same project (it replaces it there); in another project it counts at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_state import UNFINISHED_STATES, RunState
from store import run_transitions
from store.models import Project, QueueControl, Run, WorkerSlots, as_utc, utcnow
from store.queue import QUEUE_ORDER, awaits_handover, is_queued, queued_of


@dataclass(frozen=True)
class ProjectRoom:
    """A project with queued runs: how many more may run now, and when it was last served."""

    project_id: int
    room: int
    last_admitted_at: datetime | None


@dataclass(frozen=True)
class Candidate:
    """A queued run near the head of its project's queue."""

    row_id: int
    """The run's row id (`Run.id`), not its job ID."""
    project_id: int
    priority_key: int


def admitted_unfinished() -> Any:
    """Runs admitted (or active) that have not recorded their result."""
    return or_(
        col(Run.state) == RunState.ACTIVE,
        (col(Run.state) == RunState.WAITING) & col(Run.admitted_at).is_not(None),
    )


def occupying() -> Any:
    """Runs that hold (or are about to hold) a session slot: admitted, unfinished, and their
    context not closed yet."""
    return admitted_unfinished() & col(Run.slot_freed_at).is_(None)


_HOLDER = aliased(Run)
_SUCCESSOR = aliased(Run)


def waiting_successor(of_same_project: bool = False, on_worker: str | None = None) -> Any:
    """A successor whose predecessor still holds the slot (of the same project, or on that
    worker, if asked)."""
    held = select(_HOLDER.id).where(
        _HOLDER.id == Run.successor_of,
        col(_HOLDER.slot_freed_at).is_(None),
        col(_HOLDER.state).in_(UNFINISHED_STATES),
    )
    if of_same_project:
        held = held.where(_HOLDER.project_id == Run.project_id)
    if on_worker is not None:
        held = held.where(_HOLDER.worker_id == on_worker)
    return awaits_handover() & held.exists()


def holding_capacity() -> Any:
    """Runs that take one of the hosts' slots: each slot is counted once, for its holder."""
    return occupying() & ~waiting_successor()


def holding_room() -> Any:
    """Runs that take room under their project's max_parallel (a successor of the same
    project takes its predecessor's)."""
    return occupying() & ~waiting_successor(of_same_project=True)


@dataclass(frozen=True)
class Lease:
    """The dispatcher's lease: its holder and when it runs out unless renewed."""

    holder: str
    until: datetime


class AdmissionStore:
    """Database side of admission."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def occupied(self) -> int:
        """Slots held by admitted or active runs, over all projects."""
        async with self.session() as session:
            found = await session.exec(
                select(func.count()).select_from(Run).where(holding_capacity())
            )
            return int(found.one())

    async def rooms(
        self, extra: Mapping[int, int] | None = None, share_cap: int | None = None
    ) -> list[ProjectRoom]:
        """Unpaused projects with queued runs and room under their max_parallel (plus
        `extra` per project: the slots of its runs that successors may take over). While
        another project has runs waiting for a slot (queued, within its own max_parallel), a
        project's room is also under `share_cap` slots (its share of the service's)."""
        async with self.session() as session:
            if await paused_all(session):
                return []
            has_queued = select(Run.id).where(queued_of(Project.id)).exists()
            projects = (
                await session.exec(
                    select(Project).where(col(Project.paused).is_(False), has_queued)
                )
            ).all()
            if not projects:
                return []
            busy = await _count_by_project(session, holding_room(), [p.id for p in projects])
        ids = [project.id for project in projects if project.id is not None]
        held = {pid: int(busy.get(pid, 0)) - (extra or {}).get(pid, 0) for pid in ids}
        own_room = {p.id: p.max_parallel - held[p.id] for p in projects if p.id is not None}
        wanting = {project_id for project_id, room in own_room.items() if room > 0}
        rooms = []
        for project in projects:
            assert project.id is not None
            room = own_room[project.id]
            if share_cap is not None and wanting - {project.id}:
                room = min(room, share_cap - held[project.id])
            if room > 0:
                rooms.append(ProjectRoom(project.id, room, project.last_admitted_at))
        return rooms

    async def heads(self, project_id: int, limit: int) -> list[Candidate]:
        """The first `limit` queued runs of the project, in queue order."""
        async with self.session() as session:
            rows = await session.exec(
                select(Run.id, Run.priority_key)
                .where(queued_of(project_id))
                .order_by(*QUEUE_ORDER)
                .limit(limit)
            )
            return [Candidate(row_id, project_id, key) for row_id, key in rows.all() if row_id]

    async def admit(
        self,
        chosen: list[Candidate],
        successor_of: Mapping[int, int] | None = None,
        leader: str | None = None,
    ) -> list[Run]:
        """Mark the chosen runs admitted (those still queued), each into the slot of the run
        `successor_of` names for it if any, and their projects served. With `leader`, only
        while that dispatcher holds the lease, in the same statement: a dispatcher that was
        cut off and comes back with a pass under way grants nothing."""
        now = utcnow()
        admitted = []
        fence = [holds_lease(leader, now)] if leader is not None else []
        async with self.session() as session:
            for offset, candidate in enumerate(chosen):
                predecessor = (successor_of or {}).get(candidate.row_id)
                changed = await session.exec(  # type: ignore[call-overload]
                    update(Run)
                    .where(col(Run.id) == candidate.row_id, is_queued(), *fence)
                    .values(admitted_at=now, successor_of=predecessor, admitted_by=leader)
                )
                if changed.rowcount:
                    admitted.append(candidate.row_id)
                    await session.exec(  # type: ignore[call-overload]
                        update(Project)
                        .where(col(Project.id) == candidate.project_id)
                        .values(last_admitted_at=now + timedelta(microseconds=offset))
                    )
            await session.commit()
        return await self.unsent(admitted)

    async def unsent(self, row_ids: list[int] | None = None) -> list[Run]:
        """Admitted waiting runs whose workflow has not received the grant yet."""
        async with self.session() as session:
            query = select(Run).where(
                col(Run.state) == RunState.WAITING,
                col(Run.admitted_at).is_not(None),
                col(Run.admission_sent).is_(False),
            )
            if row_ids is not None:
                query = query.where(col(Run.id).in_(row_ids))
            return list((await session.exec(query.order_by(*QUEUE_ORDER))).all())

    async def without_successor(self, limit: int) -> list[Run]:
        """Up to `limit` runs holding a slot on a live worker with no successor waiting for
        it, those that started first first (they are likely to end first)."""
        successor = select(_SUCCESSOR.id).where(
            _SUCCESSOR.successor_of == Run.id, col(_SUCCESSOR.state).in_(UNFINISHED_STATES)
        )
        async with self.session() as session:
            found = await session.exec(
                select(Run)
                .where(
                    col(Run.state) == RunState.ACTIVE,
                    col(Run.slot_freed_at).is_(None),
                    col(Run.worker_id).in_(select(WorkerSlots.worker_id)),
                    ~successor.exists(),
                )
                .order_by(col(Run.started_at), col(Run.id))
                .limit(limit)
            )
            return list(found.all())

    async def releasable(self, limit: int) -> list[Run]:
        """Up to `limit` successors still waiting for a held slot whose project may run them
        beside their predecessors (the project's slots held, theirs included, are within its
        max_parallel), in queue order: with a slot free elsewhere, they need not wait."""
        async with self.session() as session:
            waiting = list(
                (
                    await session.exec(
                        select(Run)
                        .where(admitted_unfinished(), waiting_successor())
                        .order_by(*QUEUE_ORDER)
                        .limit(limit)
                    )
                ).all()
            )
            if not waiting:
                return []
            projects = {run.project_id for run in waiting}
            held = await _count_by_project(session, occupying(), projects)
            limits = dict(
                (
                    await session.exec(
                        select(Project.id, Project.max_parallel).where(
                            col(Project.id).in_(projects)
                        )
                    )
                ).all()
            )
        return [run for run in waiting if held.get(run.project_id, 0) <= limits[run.project_id]]

    async def release(self, row_ids: list[int]) -> None:
        """These successors no longer wait for their predecessors' slots: each counts as an
        admitted run of its own from now on."""
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(Run).where(col(Run.id).in_(row_ids)).values(successor_of=None)
            )
            await session.commit()

    async def successors_on(self, worker_id: str) -> list[str]:
        """The job IDs of successors waiting on this worker for their slots."""
        async with self.session() as session:
            found = await session.exec(
                select(Run.job_id).where(waiting_successor(on_worker=worker_id))
            )
            return list(found.all())

    async def holders(self, row_ids: list[int]) -> dict[int, Run]:
        """The runs with these IDs (the predecessors named by successors), by ID."""
        if not row_ids:
            return {}
        async with self.session() as session:
            found = await session.exec(select(Run).where(col(Run.id).in_(row_ids)))
            return {run.id: run for run in found.all() if run.id is not None}

    async def unstarted(self, limit: int) -> list[Run]:
        """Up to `limit` waiting runs whose workflow has not been started, in queue order."""
        async with self.session() as session:
            found = await session.exec(
                select(Run)
                .where(Run.state == RunState.WAITING, col(Run.workflow_started_at).is_(None))
                .order_by(*QUEUE_ORDER)
                .limit(limit)
            )
            return list(found.all())

    async def mark_workflows_started(self, row_ids: list[int]) -> set[int]:
        """Record the starts in one update; the runs among them that were cancelled meanwhile
        (their workflow, just started, must be cancelled too)."""
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(col(Run.id).in_(row_ids), col(Run.state) == RunState.WAITING)
                .values(workflow_started_at=utcnow())
            )
            left = await session.exec(
                select(Run.id).where(col(Run.id).in_(row_ids), col(Run.state) == RunState.CANCELLED)
            )
            await session.commit()
        return {row_id for row_id in left.all() if row_id is not None}

    async def mark_sent(self, row_id: int) -> bool:
        """The workflow has the grant; False if the run ended meanwhile (cancelled)."""
        now = utcnow()
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(col(Run.id) == row_id, col(Run.state).in_(UNFINISHED_STATES))
                .values(
                    admission_sent=True,
                    workflow_started_at=func.coalesce(Run.workflow_started_at, now),
                )
            )
            await session.commit()
            return bool(changed.rowcount)

    async def admitted_runs(self, admitted_before: datetime | None = None) -> list[Run]:
        """Unfinished admitted runs, their slot freed or not (those admitted before
        `admitted_before` if given: the ones to check on)."""
        query = select(Run).where(admitted_unfinished())
        if admitted_before is not None:
            query = query.where(col(Run.admitted_at) < admitted_before)
        async with self.session() as session:
            return list((await session.exec(query)).all())

    async def settle(self, row_id: int, state: RunState, error: str) -> bool:
        """End a run whose workflow closed without recording its result (e.g. terminated)."""
        async with self.session() as session:
            return await run_transitions.settle(session, row_id, state, error)

    async def lead(self, holder: str, for_s: float, gone: str | None = None) -> bool:
        """Take or extend the dispatcher lease; True while `holder` is the only dispatcher.
        A lease still held by `gone` (a holder known to have ended) is taken too."""
        now = utcnow()
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(QueueControl)
                .where(
                    col(QueueControl.id) == 1,
                    or_(
                        col(QueueControl.leader) == holder,
                        col(QueueControl.leader).is_(None),
                        col(QueueControl.leader_until) < now,
                        col(QueueControl.leader) == gone,
                    ),
                )
                .values(leader=holder, leader_until=now + timedelta(seconds=for_s))
            )
            await session.commit()
            return bool(changed.rowcount)

    async def lease(self) -> Lease | None:
        """Who holds the dispatcher's lease and until when (None: nobody holds it)."""
        async with self.session() as session:
            control = await session.get(QueueControl, 1)
        if control is None or control.leader is None or control.leader_until is None:
            return None
        return Lease(control.leader, as_utc(control.leader_until))

    async def resign(self, holder: str) -> None:
        """Give the lease up at shutdown, so another process takes over at once."""
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(QueueControl)
                .where(col(QueueControl.id) == 1, col(QueueControl.leader) == holder)
                .values(leader=None, leader_until=None)
            )
            await session.commit()

    async def pause_all(self, paused: bool) -> None:
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(QueueControl).where(col(QueueControl.id) == 1).values(paused=paused)
            )
            await session.commit()


def holds_lease(leader: str, now: datetime) -> Any:
    """`leader` holds the dispatcher's lease at `now` (a condition for a statement)."""
    return exists(
        select(QueueControl.id).where(
            col(QueueControl.id) == 1,
            col(QueueControl.leader) == leader,
            col(QueueControl.leader_until) > now,
        )
    )


async def paused_all(session: AsyncSession) -> bool:
    """Whether the admin paused every project's queue."""
    control = await session.get(QueueControl, 1)
    return bool(control and control.paused)


async def _count_by_project(
    session: AsyncSession, condition: Any, project_ids: Iterable[int | None]
) -> dict[int, int]:
    """How many runs meeting `condition` each of these projects has (none: absent)."""
    found = await session.exec(
        select(Run.project_id, func.count())
        .where(condition, col(Run.project_id).in_(list(project_ids)))
        .group_by(col(Run.project_id))
    )
    return {int(project): int(count) for project, count in found.all()}
