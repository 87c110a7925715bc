"""A schedule's fire, on the time-skipping test server: it follows its runs for hours of
workflow time (so overlap policies see the whole fire) and cancels them when cancelled.

The three database activities are stood in for by counters: what is under test is the fire's
own timing and cancellation, which a real clock would take hours to show."""

from __future__ import annotations

import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows.messages import FireRequest, ScheduleFire
from workflows.scheduled_fire import LONGEST_CHECK_S, ScheduledFireWorkflow


class StandIns:
    """Queue two runs; report them unfinished for `checks_until_done` checks."""

    def __init__(self, checks_until_done: int) -> None:
        self.checks = 0
        self.checks_until_done = checks_until_done
        self.cancelled: list[str] = []

    @activity.defn
    async def queue_scheduled_runs(self, request: FireRequest) -> list[str]:
        return [f"{request.fire_id}-0001", f"{request.fire_id}-0002"]

    @activity.defn
    async def unfinished_runs(self, job_ids: list[str]) -> int:
        self.checks += 1
        return 0 if self.checks >= self.checks_until_done else len(job_ids)

    @activity.defn
    async def cancel_runs(self, job_ids: list[str]) -> None:
        self.cancelled += job_ids


def fire_worker(time_skipping: WorkflowEnvironment, stand_ins: StandIns, queue: str) -> Worker:
    return Worker(
        time_skipping.client,
        task_queue=queue,
        workflows=[ScheduledFireWorkflow],
        activities=[
            stand_ins.queue_scheduled_runs,
            stand_ins.unfinished_runs,
            stand_ins.cancel_runs,
        ],
    )


async def test_a_fire_follows_its_runs_for_hours_checking_ever_less_often(
    time_skipping: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns(checks_until_done=200)
    queue = f"fires-{uuid.uuid4().hex[:6]}"
    async with fire_worker(time_skipping, stand_ins, queue):
        handle = await time_skipping.client.start_workflow(
            ScheduledFireWorkflow.run,
            ScheduleFire(schedule_id="schedule-1-x", project_id=1),
            id="schedule-1-x-fire-2026-11-28T02:00:00Z",
            task_queue=queue,
        )
        job_ids = await handle.result()
        described = await handle.describe()
    assert described.close_time is not None
    elapsed = described.close_time - described.start_time
    assert job_ids == [
        "schedule-1-x-fire-2026-11-28T02:00:00Z-0001",
        "schedule-1-x-fire-2026-11-28T02:00:00Z-0002",
    ]
    assert stand_ins.checks == 200
    assert elapsed.total_seconds() >= 190 * LONGEST_CHECK_S, "about 3 hours of workflow time"
    assert elapsed.total_seconds() < 201 * LONGEST_CHECK_S, "at most a minute between checks"


async def test_cancelling_a_fire_cancels_its_runs(time_skipping: WorkflowEnvironment) -> None:
    stand_ins = StandIns(checks_until_done=10**6)
    queue = f"fires-{uuid.uuid4().hex[:6]}"
    async with fire_worker(time_skipping, stand_ins, queue):
        handle = await time_skipping.client.start_workflow(
            ScheduledFireWorkflow.run,
            ScheduleFire(schedule_id="schedule-1-y", project_id=1),
            id="schedule-1-y-fire",
            task_queue=queue,
        )
        await time_skipping.sleep(600)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert stand_ins.cancelled == ["schedule-1-y-fire-0001", "schedule-1-y-fire-0002"]
    assert stand_ins.checks >= 5
