"""One reader of Redis Streams per process: a single blocking XREAD over every stream that
someone follows, its entries fanned out to the followers in memory. A thousand watchers cost
one Redis connection and one read per batch of events, not a thousand."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from live.events import RunEvent
from live.redis_link import REDIS_FAILURES

READ_BLOCK_MS = 1000
"""A newly followed stream joins the shared read within this long (its backlog is read at once)."""
READ_COUNT = 500
DOWN = object()
"""Put in every follower's inbox when Redis fails: they fall back to snapshots."""


def stream_id(value: str) -> tuple[int, int]:
    """A stream ID as a comparable pair."""
    ms, _, seq = value.partition("-")
    return int(ms), int(seq or 0)


def decoded(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(eq=False)
class Subscription:
    """A follower's inbox of (stream ID, event) for one stream."""

    key: str
    inbox: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)


class StreamHub:
    """Shares one blocking read among the followers of all streams."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._cursors: dict[str, str] = {}
        self._followers: dict[str, set[Subscription]] = defaultdict(set)
        self._reader: asyncio.Task[None] | None = None

    def subscribe(self, key: str, after: str) -> tuple[Subscription, str]:
        """Follow `key` from after `after`; returns the inbox and the ID from which the shared
        read goes on (the caller reads the entries between `after` and it itself)."""
        subscription = Subscription(key)
        self._followers[key].add(subscription)
        cursor = self._cursors.setdefault(key, after)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_forever())
        return subscription, cursor

    def unsubscribe(self, subscription: Subscription) -> None:
        followers = self._followers.get(subscription.key)
        if followers is None:
            return
        followers.discard(subscription)
        if not followers:
            del self._followers[subscription.key]
            self._cursors.pop(subscription.key, None)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._redis.aclose()

    async def _read_forever(self) -> None:
        while self._followers:
            streams = {key: self._cursors[key] for key in self._followers}
            try:
                found: Any = await self._redis.xread(
                    streams,  # type: ignore[arg-type]
                    count=READ_COUNT,
                    block=READ_BLOCK_MS,
                )
            except REDIS_FAILURES:
                self._tell_all(DOWN)
                await asyncio.sleep(READ_BLOCK_MS / 1000)
                continue
            for raw_key, entries in found or []:
                key = decoded(raw_key)
                for raw_id, fields in entries:
                    entry_id = decoded(raw_id)
                    if key in self._cursors:
                        self._cursors[key] = entry_id
                    event = RunEvent.from_fields(fields)
                    for subscription in self._followers.get(key, ()):
                        subscription.inbox.put_nowait((entry_id, event))

    def _tell_all(self, message: object) -> None:
        for followers in self._followers.values():
            for subscription in followers:
                subscription.inbox.put_nowait(message)
