"""Reading and writing runs: the API's read model of what Temporal executes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Project, Run, utcnow

PRIORITY_KEYS = {"live": 1, "regular": 3, "scheduled": 4}
"""Temporal priority keys: a lower key runs first."""

WAITING, ACTIVE = "waiting", "active"
FINAL_STATES = ("completed", "failed", "cancelled", "timed_out")


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
                .where(col(Run.job_id) == job_id, col(Run.state).in_([WAITING, ACTIVE]))
                .values(state=ACTIVE, started_at=func.coalesce(Run.started_at, started_at))
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

    async def cancel_undispatched(self, job_id: str) -> bool:
        """Cancel a run whose workflow was not started yet; False if it was (or it ended)."""
        now = utcnow()
        async with self.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(
                    col(Run.job_id) == job_id,
                    col(Run.state) == WAITING,
                    col(Run.dispatched_at).is_(None),
                )
                .values(state="cancelled", finished_at=now, error="the run was cancelled")
            )
            await session.commit()
            return bool(changed.rowcount)

    async def project_paused(self, project_id: str) -> bool:
        """Whether the project's queue is paused (runs of unknown projects are not held)."""
        if not project_id.isdigit():
            return False
        async with self.session() as session:
            project = await session.get(Project, int(project_id))
            return bool(project and project.paused)

    async def position(self, run: Run) -> int | None:
        """1 + the waiting runs of the project that start before this one; None unless waiting."""
        if run.state != WAITING:
            return None
        mine = PRIORITY_KEYS.get(run.priority, 3)
        ahead_priorities = [p for p, key in PRIORITY_KEYS.items() if key < mine]
        same = [p for p, key in PRIORITY_KEYS.items() if key == mine]
        async with self.session() as session:
            count = await session.exec(
                select(func.count())
                .select_from(Run)
                .where(
                    Run.project_id == run.project_id,
                    Run.state == WAITING,
                    or_(
                        col(Run.priority).in_(ahead_priorities),
                        col(Run.priority).in_(same) & (col(Run.id) < run.id),
                    ),
                )
            )
            return int(count.one()) + 1

    async def positions(self, project_id: int) -> dict[str, int]:
        """Position of every waiting run of the project, by job ID, in one query."""
        async with self.session() as session:
            rows = await session.exec(
                select(Run.job_id, Run.priority, Run.id).where(
                    Run.project_id == project_id, Run.state == WAITING
                )
            )
            ordered = sorted(rows.all(), key=lambda row: (PRIORITY_KEYS.get(row[1], 3), row[2]))
        return {job_id: index for index, (job_id, _p, _i) in enumerate(ordered, start=1)}

    async def counts(self, project_id: int) -> dict[str, int]:
        """Runs of the project by state."""
        async with self.session() as session:
            rows = await session.exec(
                select(Run.state, func.count())
                .where(Run.project_id == project_id)
                .group_by(Run.state)
            )
            return {state: int(count) for state, count in rows.all()}


def _parse(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
