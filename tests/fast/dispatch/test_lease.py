"""The dispatcher's lease: a successor takes it at once from a holder of this machine whose
process ended, and waits for any other holder's lease to run out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from core.config import Settings
from core.temporal_link import TemporalLink
from dispatch.dispatcher import Dispatcher
from dispatch.lease_holder import gone_from_here, new_holder, process_space
from store.admission import AdmissionStore
from store.db import create_engine, migrate
from tests.support.processes import holder_of_an_ended_process


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


def test_only_an_ended_process_of_this_machine_counts_as_gone() -> None:
    assert gone_from_here(holder_of_an_ended_process())
    assert not gone_from_here(new_holder()), "this process is alive"
    elsewhere = f"dispatcher-another-host.4026531836-{1}-abcdef"
    assert not gone_from_here(elsewhere), "a process of another machine is not ours to judge"
    assert not gone_from_here("api-12345-abcdef"), "a name without a process space"
    assert process_space() in new_holder()


async def test_a_dead_holders_lease_is_taken_at_once_a_live_ones_is_not(
    engine: AsyncEngine,
) -> None:
    admission = AdmissionStore(engine)
    dead = holder_of_an_ended_process()
    assert await admission.lead(dead, for_s=60)
    successor = Dispatcher.build(engine, TemporalLink(Settings(database_url="sqlite://")))
    successor.start()
    try:
        for _ in range(50):
            if await holder(admission) not in (None, dead):
                break
            await asyncio.sleep(0.1)
        assert await holder(admission) not in (None, dead), "the dead holder's lease was waited for"
        assert not await admission.lead(new_holder(), for_s=60), "a live holder's lease held"
    finally:
        await successor.stop()
    assert await admission.lease() is None, "a stopping dispatcher gives its lease up"
