"""Connections to Redis that fail fast, and a gate that stops trying for a moment after a
failure, so that a Redis outage costs a run nothing but its live events."""

from __future__ import annotations

import logging
import time

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from core.config import Settings

log = logging.getLogger(__name__)
REDIS_FAILURES = (RedisError, OSError, RuntimeError)
"""What a Redis call raises when Redis is away: its own errors, the socket's, and uvloop's
RuntimeError for a connection closed under it (a call that timed out leaves it closed)."""
FAST_TIMEOUT_S = 0.5
RETRY_AFTER_S = 2.0


MAX_CONNECTIONS = 32
"""Per client; callers beyond it wait (briefly) for a connection instead of failing."""


def connect_redis(settings: Settings, read_timeout_s: float = FAST_TIMEOUT_S) -> Redis | None:
    """A client for the configured Redis (None when none is configured).

    `read_timeout_s` must exceed the longest blocking read made with the client."""
    url = settings.effective_redis_url
    if url is None:
        return None
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=5,
        socket_connect_timeout=FAST_TIMEOUT_S,
        socket_timeout=read_timeout_s,
        health_check_interval=30,
    )
    return Redis.from_pool(pool)


class RedisGate:
    """Remembers that Redis failed: callers skip it for RETRY_AFTER_S instead of each paying
    a connection timeout. Logs once per outage."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._closed_until = 0.0
        self._down = False

    @property
    def open(self) -> bool:
        return time.monotonic() >= self._closed_until

    def failed(self, error: Exception) -> None:
        if not self._down:
            log.warning(
                "Redis unavailable (%s): %s; retrying every %.0f s",
                self._what,
                error,
                RETRY_AFTER_S,
            )
        self._down = True
        self._closed_until = time.monotonic() + RETRY_AFTER_S

    def succeeded(self) -> None:
        if self._down:
            log.info("Redis is back (%s)", self._what)
        self._down = False
