"""Following a stream from a given event on: the shared core of the SSE and WebSocket routes.

A follower of a run first replays what the run's stream holds after `last_id` (everything,
for a new watcher), then receives new events from the process's StreamHub. A follower of a
project starts at the newest event unless it gives `last_id`. Without Redis (not configured,
or down) it falls back to snapshots of the stored state, and goes back to the stream, after
the last event it passed on, as soon as Redis answers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from core.run_state import FINAL_STATES
from live.events import RunEvent
from live.hub import DOWN, StreamHub, decoded, stream_id
from live.redis_link import REDIS_FAILURES, RedisGate

BLOCK_S = 5.0
"""How long a follower waits for an event before a keep-alive (and, for a run, a state check)."""
SNAPSHOT_EVERY_S = 1.0
"""How often the state is read while Redis is unavailable."""

Snapshot = Callable[[], Awaitable[dict[str, Any] | None]]
"""The run's (or project's) current state from the database; None if it is gone."""


@dataclass
class LiveItem:
    """An event from the stream (with its ID), a state snapshot, or a keep-alive."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


KEEPALIVE = LiveItem("keepalive")


class RedisUnavailable(Exception):
    """The hub's shared read failed."""


@dataclass
class Streams:
    """What following needs: the process's hub and a client for backlog reads."""

    hub: StreamHub
    redis: Redis


def _is_final(snapshot: dict[str, Any] | None) -> bool:
    return snapshot is None or snapshot.get("state") in FINAL_STATES


def _snapshot_item(state: dict[str, Any] | None) -> LiveItem:
    return LiveItem("snapshot", state or {"state": "gone"})


def _event_item(entry_id: str, event: RunEvent) -> LiveItem:
    return LiveItem(event.type, event.model_dump(mode="json", by_alias=True), entry_id)


async def follow(
    streams: Streams | None,
    key: str,
    last_id: str | None,
    snapshot: Snapshot,
    ends_with_run: bool,
) -> AsyncIterator[LiveItem]:
    """Yield the stream's events after `last_id`; a run's stream ends with its final event."""
    gate = RedisGate(f"following {key}")
    cursor, last_snapshot = last_id, None
    while True:
        if streams is None or not gate.open:
            state = await snapshot()
            if state != last_snapshot:
                last_snapshot = state
                yield _snapshot_item(state)
            if ends_with_run and _is_final(state):
                return
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            continue
        try:
            async for item in _from_stream(streams, key, cursor, snapshot, ends_with_run):
                if item.id is not None:
                    cursor = item.id
                elif item.kind == "snapshot":
                    last_snapshot = item.data
                yield item
            return
        except (*REDIS_FAILURES, RedisUnavailable) as error:
            gate.failed(error)


async def _from_stream(
    streams: Streams, key: str, after: str | None, snapshot: Snapshot, ends: bool
) -> AsyncIterator[LiveItem]:
    """The backlog after `after`, then live events from the hub (raises while Redis is down)."""
    redis = streams.redis
    new_watcher = after is None
    if after is None and not ends:  # a project's watcher starts at the newest event
        newest: Any = await redis.xrevrange(key, count=1)
        after = decoded(newest[0][0]) if newest else "0-0"
    position = after or "0-0"
    backlog = await _entries(redis, key, position, "+")
    for position, event in backlog:
        yield _event_item(position, event)
        if ends and event.is_final:
            return
    if new_watcher and ends and not backlog:  # nothing in the stream (expired, or Redis lost it)
        state = await snapshot()
        yield _snapshot_item(state)
        if _is_final(state):
            return
    subscription, shared_from = streams.hub.subscribe(key, position)
    try:
        if stream_id(shared_from) > stream_id(position):  # the shared read is ahead of us
            gap = await _entries(redis, key, position, shared_from)
            for position, event in gap:
                yield _event_item(position, event)
                if ends and event.is_final:
                    return
        while True:
            try:
                message = await asyncio.wait_for(subscription.inbox.get(), BLOCK_S)
            except TimeoutError:
                if ends:
                    state = await snapshot()
                    if _is_final(state):  # its final event was lost while Redis was away
                        yield _snapshot_item(state)
                        return
                yield KEEPALIVE
                continue
            if message is DOWN:
                raise RedisUnavailable("the shared stream read failed")
            entry_id, event = message
            if stream_id(entry_id) <= stream_id(position):
                continue
            position = entry_id
            yield _event_item(entry_id, event)
            if ends and event.is_final:
                return
    finally:
        streams.hub.unsubscribe(subscription)


async def _entries(redis: Redis, key: str, after: str, upto: str) -> list[tuple[str, RunEvent]]:
    """The stream's events after `after` (exclusive) up to `upto` (inclusive, or "+")."""
    found: Any = await redis.xrange(key, min=f"({after}", max=upto)
    return [(decoded(raw_id), RunEvent.from_fields(fields)) for raw_id, fields in found]
