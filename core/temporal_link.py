"""A Temporal client made on first use: the API and the dispatcher start while it is down."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from core.config import Settings
from core.temporal import connect


class TemporalLink:
    """Lazily connected Temporal client, so the API starts even while Temporal is down."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The client, connecting if needed; raises if Temporal cannot be reached."""
        async with self._lock:
            if self._client is None:
                self._client = await asyncio.wait_for(connect(self._settings), timeout=5)
            return self._client
