"""Reading and writing runs: the API's read model of what Temporal executes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_result import RunProgress
from core.run_state import UNFINISHED_STATES, RunState
from store import run_transitions
from store.models import Run, utcnow


class RunStore:
    """Run rows: created when a run is queued, updated by the run's workflow."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def mark_started(
        self,
        job_id: str,
        started_at: datetime,
        worker_id: str | None = None,
        took_over: str | None = None,
    ) -> bool:
        """The run got a browser (on `worker_id`, in the slot of run `took_over` if given);
        False if the run is not known here."""
        async with self.session() as session:
            return await run_transitions.start(session, job_id, started_at, worker_id, took_over)

    async def requeue(self, job_id: str) -> bool:
        """A successor whose slot was not handed over goes back to the head of its project's
        line (its admission undone) for the dispatcher to grant it again; False if it is no
        longer waiting."""
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(col(Run.job_id) == job_id, col(Run.state) == RunState.WAITING)
                .values(admitted_at=None, admission_sent=False, successor_of=None)
            )
            await session.commit()
            return bool(changed.rowcount)

    async def free_slot(self, job_id: str) -> None:
        """The run's context closed: its session slot is free for the next run now, before
        its result is recorded (an unfinished run's row only)."""
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(col(Run.job_id) == job_id, col(Run.state).in_(UNFINISHED_STATES))
                .values(slot_freed_at=utcnow())
            )
            await session.commit()

    async def record_result(self, job_id: str, result: RunProgress) -> bool:
        """Store the final result; doing it again stores the same thing once."""
        async with self.session() as session:
            return await run_transitions.finish(session, job_id, result)
