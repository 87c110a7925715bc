"""Reading and writing runs: the API's read model of what Temporal executes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_state import UNFINISHED_STATES, RunState
from store.models import Run


class RunStore:
    """Run rows: created when a run is queued, updated by the run's workflow."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def mark_started(self, job_id: str, started_at: datetime) -> bool:
        """The run got a browser; False if the run is not known here."""
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(col(Run.job_id) == job_id, col(Run.state).in_(UNFINISHED_STATES))
                .values(state=RunState.ACTIVE, started_at=func.coalesce(Run.started_at, started_at))
            )
            await session.commit()
            return bool(changed.rowcount)

    async def record_result(self, job_id: str, result: dict[str, Any]) -> bool:
        """Store the final result; doing it again stores the same thing once."""
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(col(Run.job_id) == job_id)
                .values(
                    state=result["state"],
                    progress=result.get("progress", 0),
                    flaky=bool(result.get("flaky")),
                    error=result.get("error"),
                    result=result,
                    started_at=func.coalesce(Run.started_at, _parse(result.get("started_at"))),
                    finished_at=_parse(result.get("finished_at")),
                )
            )
            await session.commit()
            return bool(changed.rowcount)


def _parse(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
