"""Short-lived caches in Redis for what many watchers read at once; skipped while Redis is
away (the answer is then computed every time, as without a cache)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from live.redis_link import REDIS_FAILURES, RedisGate

JOB_STATUS_TTL_S = 1.0
QUEUE_COUNTS_TTL_S = 1.0


def queue_counts_key(project_id: int) -> str:
    """Cache key of a project's queue counts (forgotten whenever a run changes state)."""
    return f"cache:queue-counts:{project_id}"


class ShortCache:
    """JSON values under a key for a second or so."""

    def __init__(self, redis: Redis | None) -> None:
        self._redis = redis
        self._gate = RedisGate("cache")

    async def get_or_compute(
        self, key: str, ttl_s: float, compute: Callable[[], Awaitable[Any]]
    ) -> Any:
        """The cached value, else `compute()` (stored unless it is None)."""
        cached = await self._get(key)
        if cached is not None:
            return cached
        value = await compute()
        if value is not None:
            await self._set(key, value, ttl_s)
        return value

    async def forget(self, *keys: str) -> None:
        """Drop keys whose values just changed."""
        if self._redis is None or not self._gate.open or not keys:
            return
        try:
            await self._redis.delete(*keys)
        except REDIS_FAILURES as error:
            self._gate.failed(error)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def _get(self, key: str) -> Any:
        if self._redis is None or not self._gate.open:
            return None
        try:
            raw = await self._redis.get(key)
            self._gate.succeeded()
        except REDIS_FAILURES as error:
            self._gate.failed(error)
            return None
        return None if raw is None else json.loads(raw)

    async def _set(self, key: str, value: Any, ttl_s: float) -> None:
        if self._redis is None or not self._gate.open:
            return
        try:
            await self._redis.set(key, json.dumps(value), px=int(ttl_s * 1000))
        except REDIS_FAILURES as error:
            self._gate.failed(error)
