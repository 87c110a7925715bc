"""Publishing run events: queued in memory, written to Redis in pipelined batches by one task
per process (so one run's events keep their order), dropped while Redis is away."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from redis.asyncio import Redis

from live.events import (
    ENTRY_FIELD,
    FINISHED_TTL_S,
    JOB_STREAM_MAXLEN,
    PROJECT_STREAM_MAXLEN,
    STREAM_TTL_S,
    RunEvent,
    job_stream,
    project_stream,
)
from live.redis_link import REDIS_FAILURES, RedisGate

log = logging.getLogger(__name__)
BACKLOG = 10_000
"""Events held while Redis is slow; beyond this the newest are dropped."""
BATCH = 500
APPEND_EVENTS = """
-- KEYS: each event's job stream and project stream, in order.
-- ARGV: entry field, job stream cap, project stream cap, project stream TTL,
--       then each event's job stream TTL and entry.
local field, job_cap, project_cap, project_ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
for i = 1, #KEYS / 2 do
  local job, project = KEYS[2 * i - 1], KEYS[2 * i]
  local job_ttl, entry = ARGV[2 * i + 3], ARGV[2 * i + 4]
  redis.call('XADD', job, 'MAXLEN', '~', job_cap, '*', field, entry)
  redis.call('XADD', project, 'MAXLEN', '~', project_cap, '*', field, entry)
  redis.call('EXPIRE', job, job_ttl)
  redis.call('EXPIRE', project, project_ttl)
end
return #KEYS / 2
"""
"""Appends a batch of events to their streams, capped, with their TTLs, in one call."""


class EventPublisher:
    """Fire-and-forget publishing: `publish` never waits and never fails."""

    def __init__(
        self, redis: Redis | None, listeners: Sequence[Callable[[RunEvent], None]] = ()
    ) -> None:
        self._redis = redis
        self._append = redis.register_script(APPEND_EVENTS) if redis is not None else None
        self._listeners = listeners
        self._gate = RedisGate("publishing live events")
        self._pending: asyncio.Queue[RunEvent] = asyncio.Queue(BACKLOG)
        self._sender: asyncio.Task[None] | None = None

    @property
    def delivers(self) -> bool:
        """Whether a published event reaches anyone (Redis, or a listener)."""
        return self._redis is not None or bool(self._listeners)

    def publish(self, event: RunEvent) -> None:
        """Tell the listeners (metrics), and queue the event for the run's stream and its
        project's stream."""
        for listener in self._listeners:
            listener(event)
        if self._redis is None:
            return
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_forever())
        with contextlib.suppress(asyncio.QueueFull):
            self._pending.put_nowait(event)

    async def flush(self) -> None:
        """Wait until every queued event was written (or dropped)."""
        if self._sender is not None:
            await self._pending.join()

    async def close(self) -> None:
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), 2)
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._redis is not None:
            await self._redis.aclose()

    async def _send_forever(self) -> None:
        while True:
            await self._send(await self._next_batch())

    async def _next_batch(self) -> list[RunEvent]:
        """Wait for an event; it and those queued behind it, up to BATCH."""
        batch = [await self._pending.get()]
        while len(batch) < BATCH and not self._pending.empty():
            batch.append(self._pending.get_nowait())
        return batch

    async def _send(self, batch: list[RunEvent]) -> None:
        """Write a batch (its events are not referenced once this returns: a batch kept while
        waiting for the next one held up to BATCH events from the last burst, and the memory
        pages they sat in)."""
        try:
            if self._gate.open:
                await self._write(batch)
                self._gate.succeeded()
        except REDIS_FAILURES as error:
            self._gate.failed(error)
        finally:
            for _ in batch:
                self._pending.task_done()

    async def _write(self, events: list[RunEvent]) -> None:
        """One script call for the whole batch: a pipeline of four commands per event cost the
        API's loop 0.1-0.19 s of CPU per 1000 events, most of it building commands and parsing
        replies."""
        assert self._append is not None
        keys: list[str] = []
        args: list[str | int] = [
            ENTRY_FIELD,
            JOB_STREAM_MAXLEN,
            PROJECT_STREAM_MAXLEN,
            STREAM_TTL_S,  # the project stream's
        ]
        for event in events:
            keys += [job_stream(event.job_id), project_stream(event.project_id)]
            args += [FINISHED_TTL_S if event.is_final else STREAM_TTL_S, event.to_entry()]
        await self._append(keys=keys, args=args)
