"""One fire of a schedule: queue the runs of its test or suite at scheduled priority, then wait
until they have all ended, so that the schedule's overlap policy (skip by default) applies to
whole fires, however long their runs wait in the queue."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import activity_contracts as contracts
    from workflows.messages import FireRequest, ScheduleFire

QUEUE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=20,
    non_retryable_error_types=["ScheduleTargetMissing"],
)
CHECK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
FIRST_CHECK_S = 2
LONGEST_CHECK_S = 60
"""The fire checks on its runs after 2 s, then ever less often, at most every minute."""


@workflow.defn(name="ScheduledFire", sandboxed=False)
class ScheduledFireWorkflow:
    """Queues a fire's runs and follows them to their end; cancelling it cancels them."""

    @workflow.run
    async def run(self, fire: ScheduleFire) -> list[str]:
        job_ids: list[str] = await workflow.execute_activity(
            contracts.queue_scheduled_runs,
            FireRequest(schedule_id=fire.schedule_id, fire_id=workflow.info().workflow_id),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=QUEUE_RETRY,
        )
        try:
            await self._until_finished(job_ids)
        except asyncio.CancelledError:
            await asyncio.shield(
                workflow.execute_activity(
                    contracts.cancel_runs,
                    job_ids,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=CHECK_RETRY,
                )
            )
            raise
        return job_ids

    async def _until_finished(self, job_ids: list[str]) -> None:
        wait = FIRST_CHECK_S
        while job_ids:
            await workflow.sleep(timedelta(seconds=wait))
            unfinished: int = await workflow.execute_activity(
                contracts.unfinished_runs,
                job_ids,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=CHECK_RETRY,
            )
            if unfinished == 0:
                return
            wait = min(wait * 2, LONGEST_CHECK_S)
