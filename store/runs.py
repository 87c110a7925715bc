"""Reading and writing runs: the API's read model of what Temporal executes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_result import RunProgress
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
        session_attempt: int = 1,
    ) -> bool:
        """The run got a browser (on `worker_id`, in the slot of run `took_over` if given)
        for `session_attempt`; False if the run is not known here, has ended, or a later
        session attempt started (a late write, refused)."""
        async with self.session() as session:
            return await run_transitions.start(
                session, job_id, started_at, worker_id, took_over, session_attempt
            )

    async def later_attempt_started(self, job_id: str, session_attempt: int) -> bool:
        """Whether a session attempt after `session_attempt` started for the run: a write for
        `session_attempt` now is late."""
        async with self.session() as session:
            latest = await session.exec(select(Run.session_attempt).where(Run.job_id == job_id))
            current = latest.first()
        return current is not None and current > session_attempt

    async def requeue(self, job_id: str) -> bool:
        """A successor whose slot was not handed over goes back in line (its place kept);
        False if it is no longer waiting."""
        async with self.session() as session:
            return await run_transitions.queue_again(session, job_id)

    async def free_slot(self, job_id: str, session_attempt: int | None = None) -> bool:
        """The run's context closed: its session slot is free for the next run now, before
        its result is recorded (an unfinished run's row only; with `session_attempt`, only
        while that attempt is the run's latest: False for a late write)."""
        async with self.session() as session:
            return await run_transitions.free_slot(session, job_id, utcnow(), session_attempt)

    async def record_result(self, job_id: str, result: RunProgress) -> bool:
        """Store the final result; doing it again stores the same thing once."""
        async with self.session() as session:
            return await run_transitions.finish(session, job_id, result)
