"""Run rows written straight to a service database, for tests of the store."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from store import run_transitions
from store.models import Run


async def new_run(session: AsyncSession, job_id: str, project_id: int = 1) -> Run:
    """A waiting run of the project."""
    row = run_transitions.waiting_row(
        {"job_id": job_id, "project_id": project_id, "priority_key": 0, "run_input": {}}
    )
    run = Run(**row)
    session.add(run)
    await session.commit()
    return run
