"""The dispatcher: starts the workflows of queued runs, so that queueing never waits on Temporal.

A queued run is first a database row (durable, with its position); this loop starts its
workflow moments later. Starting is idempotent (the workflow ID is the job ID), so several API
processes, or a restart half-way, start each run exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy import update
from sqlmodel import col, select
from temporalio.client import Client
from temporalio.common import Priority
from temporalio.exceptions import WorkflowAlreadyStartedError

from api.temporal_link import TemporalLink
from core.queues import WORKFLOW_TASK_QUEUE
from store.models import Run, utcnow
from store.runs import PRIORITY_KEYS, WAITING, RunStore
from workflows.messages import RunInput
from workflows.test_run import TestRunWorkflow

log = logging.getLogger(__name__)
BATCH = 200
CONCURRENCY = 32
IDLE_POLL_S = 1.0


class Dispatcher:
    """Starts the workflow of every waiting run that has none yet."""

    def __init__(self, runs: RunStore, temporal: TemporalLink) -> None:
        self._runs = runs
        self._temporal = temporal
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wake(self) -> None:
        """New runs were queued."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_POLL_S)
            self._wake.clear()
            try:
                while await self.dispatch_once() == BATCH:
                    pass
            except Exception as error:  # Temporal or the database is away: try again later
                log.warning("dispatching queued runs failed: %s", error)

    async def dispatch_once(self) -> int:
        """Start up to BATCH waiting runs, oldest first; return how many were picked up."""
        async with self._runs.session() as session:
            pending = (
                await session.exec(
                    select(Run)
                    .where(Run.state == WAITING, col(Run.dispatched_at).is_(None))
                    .order_by(col(Run.id))
                    .limit(BATCH)
                )
            ).all()
        if not pending:
            return 0
        client = await self._temporal.client()
        limit = asyncio.Semaphore(CONCURRENCY)
        await asyncio.gather(*(self._start(client, run, limit) for run in pending))
        return len(pending)

    async def _start(self, client: Client, run: Run, limit: asyncio.Semaphore) -> None:
        async with limit:
            with contextlib.suppress(WorkflowAlreadyStartedError):  # started before: fine
                await client.start_workflow(
                    TestRunWorkflow.run,
                    RunInput.model_validate(run.run_input),
                    id=run.job_id,
                    task_queue=WORKFLOW_TASK_QUEUE,
                    priority=Priority(priority_key=PRIORITY_KEYS.get(run.priority, 3)),
                )
            still_waiting = await self._mark_dispatched(run)
            if not still_waiting:  # cancelled while being started
                with contextlib.suppress(Exception):
                    await client.get_workflow_handle(run.job_id).cancel()

    async def _mark_dispatched(self, run: Run) -> bool:
        """Record the start; False if the run left `waiting` meanwhile (it is then never
        picked up again, as only waiting runs are)."""
        async with self._runs.session() as session:
            changed = await session.exec(  # type: ignore[call-overload]
                update(Run)
                .where(col(Run.id) == run.id, col(Run.state) == WAITING)
                .values(dispatched_at=utcnow())
            )
            await session.commit()
        return bool(changed.rowcount)
