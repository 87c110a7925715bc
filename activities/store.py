"""Store activities: the run workflow keeps the database's read model up to date."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import cast

from temporalio import activity

from core.recent_keys import RecentKeys
from live.bell import DispatchBell
from live.cache import ShortCache, queue_counts_key
from live.events import FINAL_EVENTS, EventType, RunEvent
from live.publisher import EventPublisher
from store.retention import Retention
from store.runs import RunStore
from store.workers import WorkerRegistry
from workflows.messages import RunFinished

log = logging.getLogger(__name__)
RETENTION_EVERY_S = 2.0
"""Retention runs at most this often per worker, for every project that finished runs since."""
ANNOUNCED_KEPT = 10_000
"""Runs whose final event this process published lately (not published again)."""


class StoreActivities:
    """Activities bound to the service database."""

    def __init__(
        self,
        runs: RunStore,
        retention: Retention,
        events: EventPublisher,
        cache: ShortCache | None = None,
        bell: DispatchBell | None = None,
        workers: WorkerRegistry | None = None,
        notify: Callable[[str, int], Awaitable[int]] | None = None,
    ) -> None:
        self._runs = runs
        self._notify = notify
        self._workers = workers
        self._bell = bell or DispatchBell(None)
        self._events = events
        self._cache = cache or ShortCache(None)
        self._retention = retention
        self._finished: set[str] = set()
        self._announced = RecentKeys(ANNOUNCED_KEPT)
        self._retainer: asyncio.Task[None] | None = None

    @activity.defn
    async def record_finished(self, event: RunFinished) -> bool:
        """Store the final result (idempotent, so a retried activity stores it once) and
        announce it, once per process however often this runs (a local activity runs again
        when its workflow task is retried); start the deliveries of its webhooks' events
        (the run waits for their start, not for them); the project's retention follows in
        the background, the run does not wait for it."""
        stored = await self._runs.record_result(event.job_id, event.result)
        if not event.slot_freed:  # else its context's close rang already
            self._bell.ring()  # its slot is free: the dispatcher admits the next run at once
        await self._cache.forget(queue_counts_key(event.project_id))
        if event.job_id not in self._announced:
            self._publish_outcome(event)
            self._announced.remember(event.job_id)
        if self._notify is not None:  # each delivery starts once, however often this runs
            await self._notify(event.job_id, event.project_id)
        if stored:
            self._finished.add(event.job_id)
            if self._retainer is None or self._retainer.done():
                self._retainer = asyncio.create_task(self._retain())
        return stored

    @activity.defn
    async def forget_worker(self, worker_id: str) -> None:
        """A run found this worker dead: its slots leave the capacity now, not when its
        heartbeat goes stale (a worker that was only slow joins again at its next one)."""
        if self._workers is not None:
            await self._workers.mark_lost(worker_id)
        log.warning("worker %s stopped answering: its sessions leave the capacity", worker_id)
        self._bell.ring()

    @activity.defn
    async def queue_again(self, job_id: str) -> bool:
        """A successor whose slot was not handed over goes back in line, in its place, and the
        dispatcher grants it again at once; False if it is no longer waiting (its context
        opened after all)."""
        requeued = await self._runs.requeue(job_id)
        self._bell.ring()
        return requeued

    def _publish_outcome(self, event: RunFinished) -> None:
        """The run's final live event, with a summary of its result."""
        result = event.result
        if result.state not in FINAL_EVENTS:
            return
        final = cast(EventType, str(result.state))
        statuses = [step.status for step in result.steps]
        self._events.publish(
            RunEvent(
                type=final,
                jobId=event.job_id,
                projectId=str(event.project_id),
                data={
                    "state": final,
                    "testName": event.test_name,
                    "progress": result.progress,
                    "flaky": result.flaky,
                    "error": result.error,
                    "errorType": result.error_type,
                    "stepsPassed": statuses.count("passed"),
                    "stepsFailed": statuses.count("failed"),
                    "startedAt": _iso(result.started_at),
                    "finishedAt": _iso(result.finished_at),
                },
            )
        )

    async def close(self) -> None:
        """Stop the background retention, before the engine is disposed (retention catches up
        at the project's next finished run)."""
        if self._retainer is not None:
            self._retainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retainer
            self._retainer = None

    async def _retain(self) -> None:
        while self._finished:
            await asyncio.sleep(RETENTION_EVERY_S)
            jobs, self._finished = self._finished, set()
            try:
                await self._retention.apply_for_jobs(jobs)
            except Exception as error:  # retention catches up at the project's next finished run
                log.warning("retention failed: %s", error)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
