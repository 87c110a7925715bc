"""Store activities: the run workflow keeps the database's read model up to date."""

from __future__ import annotations

import asyncio
import logging

from temporalio import activity

from store.retention import Retention
from store.runs import RunStore
from workflows import activity_names
from workflows.messages import RunFinished

log = logging.getLogger(__name__)


class StoreActivities:
    """Activities bound to the service database."""

    def __init__(self, runs: RunStore, retention: Retention) -> None:
        self._runs = runs
        self._retention = retention
        self._background: set[asyncio.Task[None]] = set()

    @activity.defn(name=activity_names.RECORD_FINISHED)
    async def record_finished(self, event: RunFinished) -> bool:
        """Store the final result (idempotent, so a retried activity stores it once), then
        apply the project's retention in the background: the run need not wait for it."""
        stored = await self._runs.record_result(event.job_id, event.result)
        if stored:
            task = asyncio.create_task(self._retain(event.job_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return stored

    async def _retain(self, job_id: str) -> None:
        try:
            await self._retention.apply_for_job(job_id)
        except Exception as error:  # retention catches up at the project's next finished run
            log.warning("retention after run %s failed: %s", job_id, error)
