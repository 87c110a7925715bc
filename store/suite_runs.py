"""A suite run's runs: the latest run of each of its tests, and those retries replaced."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Run


async def suite_run_rows(
    session: AsyncSession, project_id: int, suite_run_id: str
) -> tuple[list[Run], list[Run]]:
    """The latest run of each test (in queue order) and the runs retries replaced; two empty
    lists if the project has no such suite run."""
    found = await session.exec(
        select(Run)
        .where(Run.project_id == project_id, Run.suite_run_id == suite_run_id)
        .order_by(col(Run.id))
    )
    rows = list(found.all())
    latest: dict[int, Run] = {}  # a test keeps the place of its first run, holds its newest
    for run in rows:
        latest[run.test_id if run.test_id is not None else -(run.id or 0)] = run
    kept = {run.id for run in latest.values()}
    return list(latest.values()), [run for run in rows if run.id not in kept]
