"""A suite run's runs: the latest run of each of its tests, and those retries replaced."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import Run, as_utc


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


def run_span(runs: Sequence[Run]) -> tuple[datetime | None, datetime | None]:
    """The first start and the last end among the runs (None where none has one)."""
    starts = [as_utc(run.started_at) for run in runs if run.started_at is not None]
    ends = [as_utc(run.finished_at) for run in runs if run.finished_at is not None]
    return (min(starts) if starts else None), (max(ends) if ends else None)


def wall_time_s(runs: Sequence[Run]) -> float | None:
    """From the first run's start to the last one's end (None until one started and one ended):
    the time the runs took together on parallel slots."""
    started, ended = run_span(runs)
    return (ended - started).total_seconds() if started and ended else None
