"""Reading and writing runs: the API's read model of what Temporal executes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_result import RunProgress
from store import run_transitions


class RunStore:
    """Run rows: created when a run is queued, updated by the run's workflow."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def mark_started(self, job_id: str, started_at: datetime) -> bool:
        """The run got a browser; False if the run is not known here."""
        async with self.session() as session:
            return await run_transitions.start(session, job_id, started_at)

    async def record_result(self, job_id: str, result: RunProgress) -> bool:
        """Store the final result; doing it again stores the same thing once."""
        async with self.session() as session:
            return await run_transitions.finish(session, job_id, result)
