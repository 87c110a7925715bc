"""Store activities: the run workflow keeps the database's read model up to date."""

from __future__ import annotations

from temporalio import activity

from store.runs import RunStore
from workflows import activity_names
from workflows.messages import RunFinished


class StoreActivities:
    """Activities bound to the service database."""

    def __init__(self, runs: RunStore) -> None:
        self._runs = runs

    @activity.defn(name=activity_names.RECORD_FINISHED)
    async def record_finished(self, event: RunFinished) -> bool:
        """Store the final result; idempotent, so a retried activity stores it once."""
        return await self._runs.record_result(event.job_id, event.result)
