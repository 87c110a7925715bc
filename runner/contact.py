"""A worker cut off from Temporal closes its browser contexts instead of running on to no one.

Its runs hear nothing from its sessions past their lost timeout and start them again on
another worker; whatever this worker still did in them would reach no one (and its late
writes are refused, store.run_transitions). So once the worker has not reached Temporal for
that long, it closes every context it holds; it goes on polling, and serves again as soon as
the network is back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from temporalio.client import Client

from browser.pool import BrowserPool
from workflows.messages import SESSION_LOST_TIMEOUT_S

log = logging.getLogger(__name__)

PROBE_EVERY_S = 1.0


class ContactWatch:
    """Asks Temporal once a second whether it answers; out of touch for `lost_after_s`, closes
    every context of the pool (once per loss of contact)."""

    def __init__(
        self, client: Client, pool: BrowserPool, lost_after_s: float = SESSION_LOST_TIMEOUT_S
    ) -> None:
        self._client = client
        self._pool = pool
        self._lost_after_s = lost_after_s
        self.cut_off = False

    async def run(self) -> None:
        last_contact = time.monotonic()
        while True:
            if await self._answers():
                if self.cut_off:
                    log.info("Temporal answers again: this worker serves runs again")
                last_contact, self.cut_off = time.monotonic(), False
            elif not self.cut_off and time.monotonic() - last_contact >= self._lost_after_s:
                self.cut_off = True
                closed = await self._pool.close_all("its worker was cut off from Temporal")
                log.warning(
                    "Temporal unreachable for %.0f s: its runs have moved on; "
                    "closed %d browser contexts",
                    self._lost_after_s,
                    closed,
                )
            await asyncio.sleep(PROBE_EVERY_S)

    async def _answers(self) -> bool:
        try:
            return await self._client.service_client.check_health(
                timeout=timedelta(seconds=PROBE_EVERY_S)
            )
        except Exception:
            return False
