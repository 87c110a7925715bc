"""The dispatcher's lease: a successor takes it at once from a holder of this machine whose
process ended, and waits for any other holder's lease to run out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.process_names import process_name
from core.temporal_link import TemporalLink
from dispatch.dispatcher import Dispatcher
from store.admission import AdmissionStore
from store.db import create_engine, migrate
from tests.support.processes import name_of_an_ended_process


async def holder(admission: AdmissionStore) -> str | None:
    lease = await admission.lease()
    return lease.holder if lease else None


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    migrate(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def test_a_dead_holders_lease_is_taken_at_once_a_live_ones_is_not(
    engine: AsyncEngine,
) -> None:
    admission = AdmissionStore(engine)
    dead = name_of_an_ended_process()
    assert await admission.lead(dead, for_s=60)
    successor = Dispatcher.build(engine, TemporalLink(Settings(database_url="sqlite://")))
    successor.start()
    try:
        for _ in range(50):
            if await holder(admission) not in (None, dead):
                break
            await asyncio.sleep(0.1)
        assert await holder(admission) not in (None, dead), "the dead holder's lease was waited for"
        assert not await admission.lead(process_name("dispatcher"), for_s=60), (
            "a live holder's lease held"
        )
    finally:
        await successor.stop()
    assert await admission.lease() is None, "a stopping dispatcher gives its lease up"
