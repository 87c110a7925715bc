"""Recording a run's result (a real SQLite database with the service's migrations): the
dispatcher's bell rings once per run's end, from the context's close or from the result."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from activities.store import StoreActivities
from core.run_result import RunProgress
from core.run_state import RunState
from live.bell import DispatchBell
from live.publisher import EventPublisher
from store.retention import Retention
from store.runs import RunStore
from tests.support.run_rows import new_run
from workflows.messages import RunFinished


class CountingBell(DispatchBell):
    """A bell that counts its rings instead of sending them."""

    def __init__(self) -> None:
        super().__init__(None)
        self.rings = 0

    def ring(self) -> None:
        self.rings += 1


def finished(job_id: str, slot_freed: bool) -> RunFinished:
    result = RunProgress(state=RunState.COMPLETED, progress=100, finished_at=datetime.now(UTC))
    return RunFinished(job_id=job_id, result=result, project_id=1, slot_freed=slot_freed)


async def test_the_result_rings_the_bell_only_for_a_run_whose_close_did_not(
    one_project_db: AsyncEngine, tmp_path: Path
) -> None:
    engine = one_project_db
    async with AsyncSession(engine) as session:
        for job_id in ("freed", "held"):
            await new_run(session, job_id)
    bell = CountingBell()
    store = StoreActivities(
        RunStore(engine), Retention(engine, tmp_path), EventPublisher(None), bell=bell
    )
    try:
        assert await store.record_finished(finished("freed", slot_freed=True))
        assert bell.rings == 0, "the context's close rang for this run already"
        assert await store.record_finished(finished("held", slot_freed=False))
        assert bell.rings == 1, "the result freed this run's slot: the dispatcher must hear"
    finally:
        await store.close()
