"""Following a stream from a given event on: the shared core of the SSE and WebSocket routes.

A follower first replays what the stream holds after `last_id` (everything, for a new
watcher), then waits for new events. Without Redis (not configured, or down) it falls back to
snapshots of the run's stored state, and goes back to the stream, from the same event, as soon
as Redis answers again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from live.events import RunEvent
from live.redis_link import RedisGate

BLOCK_S = 5.0
"""How long one read waits for new events before a keep-alive (and, for a run, a state check)."""
SNAPSHOT_EVERY_S = 1.0
"""How often the state is read while Redis is unavailable."""
READ_COUNT = 200
FINAL_STATES = frozenset({"completed", "failed", "cancelled", "timed_out"})

Snapshot = Callable[[], Awaitable[dict[str, Any] | None]]
"""The run's (or project's) current state from the database; None if it is gone."""


@dataclass
class LiveItem:
    """An event from the stream (with its ID), a state snapshot, or a keep-alive."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


KEEPALIVE = LiveItem("keepalive")


def _is_final(snapshot: dict[str, Any] | None) -> bool:
    return snapshot is None or snapshot.get("state") in FINAL_STATES


async def follow(
    redis: Redis | None,
    key: str,
    last_id: str | None,
    snapshot: Snapshot,
    ends_with_run: bool,
) -> AsyncIterator[LiveItem]:
    """Yield the stream's events after `last_id`; a run's stream ends with its final event."""
    gate = RedisGate(f"following {key}")
    cursor = last_id or "0-0"
    first_read, last_snapshot = True, None
    while True:
        if redis is None or not gate.open:
            state = await snapshot()
            if state != last_snapshot:
                last_snapshot = state
                yield LiveItem("snapshot", state or {"state": "gone"})
            if ends_with_run and _is_final(state):
                return
            await asyncio.sleep(SNAPSHOT_EVERY_S)
            continue
        try:
            found: Any = await redis.xread(
                {key: cursor},
                count=READ_COUNT,
                block=None if first_read else int(BLOCK_S * 1000),
            )
            gate.succeeded()
        except (RedisError, OSError) as error:
            gate.failed(error)
            continue
        entries = found[0][1] if found else []
        if not entries:
            if first_read or ends_with_run:
                state = await snapshot()
                ended = ends_with_run and _is_final(state)
                if (first_read and last_id is None) or ended:
                    # a new watcher learns where the run stands; one whose stream lost the
                    # final event (Redis was away) learns how it ended
                    last_snapshot = state
                    yield LiveItem("snapshot", state or {"state": "gone"})
                if ended:
                    return
            if not first_read:
                yield KEEPALIVE
            first_read = False
            continue
        first_read = False
        for entry_id, fields in entries:
            cursor = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
            event = RunEvent.from_fields(fields)
            yield LiveItem(event.type, event.model_dump(mode="json", by_alias=True), cursor)
            if ends_with_run and event.is_final:
                return
