"""The order a suite's runs queue in: the longest first, by their tests' recent durations, so
that the suite ends sooner on parallel slots than in the suite's own order (the way a
scheduler packs jobs: a long test started last keeps one slot busy after the rest are done)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_state import RunState
from store.models import Run, TestCase

RECENT_RUNS = 5
"""How many of a test's latest passed runs its duration is the median of."""


async def recent_durations(session: AsyncSession, test_ids: Sequence[int]) -> dict[int, float]:
    """Each test's median duration over its latest passed runs (tests never passed: absent)."""
    found: dict[int, float] = {}
    for test_id in dict.fromkeys(test_ids):
        rows = await session.exec(
            select(Run)
            .where(Run.test_id == test_id, Run.state == RunState.COMPLETED)
            .order_by(col(Run.id).desc())
            .limit(RECENT_RUNS)
        )
        durations = [run.duration_s for run in rows.all() if run.duration_s is not None]
        if durations:
            found[test_id] = statistics.median(durations)
    return found


async def longest_first(session: AsyncSession, tests: Sequence[TestCase]) -> list[TestCase]:
    """The tests, longest first; a test with no passed run yet goes first (its length is
    unknown, so it may be the longest); ties keep the suite's order."""
    durations = await recent_durations(session, [test.id for test in tests if test.id])
    return sorted(tests, key=lambda test: -durations.get(test.id or 0, math.inf))
