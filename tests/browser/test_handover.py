"""Slot handovers in a real Chromium: a successor opens its context in its predecessor's slot
once that context has closed, and the slot never looks free in between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from browser.handover import HandoverMissed, SlotHandovers
from browser.pool import BrowserPool, SessionNotFound
from runner.slots import SessionSlotSupplier


@pytest.fixture
async def pool() -> AsyncIterator[BrowserPool]:
    pool = BrowserPool(None)
    await pool.start()
    try:
        yield pool
    finally:
        await pool.stop()


async def test_a_successor_opens_in_its_predecessor_s_slot_once_that_context_closed(
    pool: BrowserPool,
) -> None:
    handovers = SlotHandovers(pool)
    slots = SessionSlotSupplier(pool, handovers, max_sessions=1)
    predecessor = await pool.open("first", "off", lifetime_s=300)
    seen_free: list[bool] = []
    pool.on_change(lambda: seen_free.append(slots._has_room()))
    handovers.on_change(lambda: seen_free.append(slots._has_room()))

    async def successor() -> str:
        async with handovers.slot_after("first"):
            assert predecessor.session_id not in pool._sessions, "it has closed first"
            return (await pool.open("second", "off", lifetime_s=300)).session_id

    opened = asyncio.create_task(successor())
    await asyncio.sleep(0.1)
    assert not opened.done(), "it waits while the predecessor's context is open"
    await pool.close(predecessor.session_id)
    session_id = await asyncio.wait_for(opened, 10)
    assert pool.open_runs() == ["second"] and pool.get(session_id).job_id == "second"
    assert handovers.promised == 0 and handovers.handed_over("first")
    assert seen_free and not any(seen_free), "no run from the shared queue could slip in"


async def test_a_successor_of_a_context_not_here_or_on_a_stopping_worker_gives_up(
    pool: BrowserPool,
) -> None:
    handovers = SlotHandovers(pool)
    with pytest.raises(HandoverMissed):
        async with handovers.slot_after("never-opened-here"):
            pass
    await pool.open("first", "off", lifetime_s=300)

    async def successor() -> None:
        async with handovers.slot_after("first"):
            pass

    waiting = asyncio.create_task(successor())
    await asyncio.sleep(0.1)
    handovers.stop()
    with pytest.raises(HandoverMissed):
        await asyncio.wait_for(waiting, 10)
    assert handovers.promised == 0


async def test_a_successor_s_session_closed_by_its_run_before_it_opened_never_opens(
    pool: BrowserPool,
) -> None:
    """A cancel's teardown can reach the worker before the handover: the context then never
    opens for the cancelled run."""
    assert not await pool.close("successor-session")
    with pytest.raises(SessionNotFound, match="its run closed it"):
        await pool.open("cancelled", "off", lifetime_s=300, session_id="successor-session")
    assert pool.open_count == 0
