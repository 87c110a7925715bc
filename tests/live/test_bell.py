"""The dispatcher's bell over a real Redis: a ring from one process reaches the listener."""

from __future__ import annotations

import asyncio

from core.config import Settings
from live.bell import DispatchBell, connect_bell


async def test_a_ring_reaches_the_listener_and_every_ring_after_a_change_is_sent(
    settings: Settings,
) -> None:
    listener, ringer = connect_bell(settings), connect_bell(settings)
    heard: list[int] = []
    arrived = asyncio.Event()

    def on_ring() -> None:
        heard.append(1)
        arrived.set()

    task = asyncio.create_task(listener.listen(on_ring))
    try:
        await asyncio.wait_for(arrived.wait(), 10)  # once on connecting: rings may be missed
        arrived.clear()
        for _ in range(5):  # a burst: rings merge, but one follows the last
            ringer.ring()
        await asyncio.wait_for(arrived.wait(), 10)
        await ringer.close()
        count = len(heard)
        assert count >= 2, "the listener heard the burst"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await listener.close()


async def test_without_redis_the_bell_is_silent() -> None:
    bell = DispatchBell(None)
    bell.ring()
    await bell.listen(lambda: None)  # returns at once: nothing to hear
    await bell.close()
