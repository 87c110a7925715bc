"""The dispatcher's bell: any process rings it when admission may have work (a run queued or
ended, a queue resumed, a limit changed, a worker joined), and the dispatcher listens, so it
admits at once instead of polling the database. Redis pub/sub; a ring lost while Redis is
away costs at most the dispatcher's slow sweep."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from redis.asyncio import Redis

from core.config import Settings
from live.redis_link import RETRY_AFTER_S, RedisGate, connect_redis

CHANNEL = "testrun:dispatch"
LISTEN_POLL_S = 5.0
"""How long one wait for a message lasts (the connection's read timeout must exceed it)."""
LISTEN_READ_TIMEOUT_S = LISTEN_POLL_S + 5


class DispatchBell:
    """Rings and hears the dispatcher's bell (no Redis: rings are dropped, nothing is heard)."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._gate = RedisGate("dispatch bell")
        self._sending: asyncio.Task[None] | None = None
        self._again = False

    def ring(self) -> None:
        """Ring without waiting. A ring while one is being sent is sent after it, once, so
        every change is followed by a ring the dispatcher hears after the change."""
        if self._redis is None or not self._gate.open:
            return
        if self._sending is not None and not self._sending.done():
            self._again = True
            return
        self._sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        assert self._redis is not None
        while True:
            self._again = False
            try:
                await self._redis.publish(CHANNEL, b"1")
                self._gate.succeeded()
            except Exception as error:  # the sweep covers a lost ring
                self._gate.failed(error)
                return
            if not self._again:
                return

    async def listen(self, heard: Callable[[], None]) -> None:
        """Call `heard` for every ring, and once after each (re)connection (rings may have
        been missed meanwhile); runs until cancelled."""
        if self._redis is None:
            return
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    self._gate.succeeded()
                    heard()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=LISTEN_POLL_S
                        )
                        if message is not None:
                            heard()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._gate.failed(error)
                await asyncio.sleep(RETRY_AFTER_S)

    async def close(self) -> None:
        """Let a ring being sent finish, then close the connection."""
        if self._sending is not None:
            with contextlib.suppress(Exception):
                await self._sending
        if self._redis is not None:
            await self._redis.aclose()


def connect_bell(settings: Settings) -> DispatchBell:
    """The bell on the configured Redis (silent without one)."""
    return DispatchBell(connect_redis(settings, read_timeout_s=LISTEN_READ_TIMEOUT_S))
