"""The browser pool: contexts that no run claims are closed, so none is left behind."""

from __future__ import annotations

import asyncio

from browser.pool import BrowserPool


async def test_a_context_no_run_claims_is_closed() -> None:
    """A run cancelled while its context opened never claims it: the reaper closes it."""
    pool = BrowserPool(None, claim_timeout_s=0.5, reap_interval_s=0.1)
    await pool.start()
    try:
        orphan = await pool.open("cancelled-run", "off", lifetime_s=300)
        claimed = await pool.open("live-run", "off", lifetime_s=300)
        async with pool.using(claimed.session_id):
            pass
        await asyncio.sleep(1.5)
        assert orphan.session_id not in {s.session_id for s in pool._sessions.values()}
        assert pool.get(claimed.session_id) is claimed
    finally:
        await pool.stop()
