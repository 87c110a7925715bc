"""A schedule's fire, on the time-skipping test server: it follows its runs for hours of
workflow time (so overlap policies see the whole fire) and cancels them when cancelled.

The three database activities are stood in for by counters: what is under test is the fire's
own timing and cancellation, which a real clock would take hours to show."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from workflows import activity_names
from workflows.messages import FireRequest, ScheduleFire
from workflows.scheduled_fire import LONGEST_CHECK_S, ScheduledFireWorkflow

TEST_SERVER = Path(sys.executable).parent / "temporal-test-server"


class StandIns:
    """Queue two runs; report them unfinished for `checks_until_done` checks."""

    def __init__(self, checks_until_done: int) -> None:
        self.checks = 0
        self.checks_until_done = checks_until_done
        self.cancelled: list[str] = []

    @activity.defn(name=activity_names.QUEUE_SCHEDULED_RUNS)
    async def queue(self, request: FireRequest) -> list[str]:
        return [f"{request.fire_id}-0001", f"{request.fire_id}-0002"]

    @activity.defn(name=activity_names.UNFINISHED_RUNS)
    async def unfinished(self, job_ids: list[str]) -> int:
        self.checks += 1
        return 0 if self.checks >= self.checks_until_done else len(job_ids)

    @activity.defn(name=activity_names.CANCEL_RUNS)
    async def cancel(self, job_ids: list[str]) -> None:
        self.cancelled += job_ids


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(TEST_SERVER), data_converter=pydantic_data_converter
    )
    yield environment
    await environment.shutdown()


def fire_worker(env: WorkflowEnvironment, stand_ins: StandIns, queue: str) -> Worker:
    return Worker(
        env.client,
        task_queue=queue,
        workflows=[ScheduledFireWorkflow],
        activities=[stand_ins.queue, stand_ins.unfinished, stand_ins.cancel],
    )


async def test_a_fire_follows_its_runs_for_hours_checking_ever_less_often(
    env: WorkflowEnvironment,
) -> None:
    stand_ins = StandIns(checks_until_done=200)
    queue = f"fires-{uuid.uuid4().hex[:6]}"
    async with fire_worker(env, stand_ins, queue):
        handle = await env.client.start_workflow(
            ScheduledFireWorkflow.run,
            ScheduleFire(schedule_id="schedule-1-x", project_id="1"),
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


async def test_cancelling_a_fire_cancels_its_runs(env: WorkflowEnvironment) -> None:
    stand_ins = StandIns(checks_until_done=10**6)
    queue = f"fires-{uuid.uuid4().hex[:6]}"
    async with fire_worker(env, stand_ins, queue):
        handle = await env.client.start_workflow(
            ScheduledFireWorkflow.run,
            ScheduleFire(schedule_id="schedule-1-y", project_id="1"),
            id="schedule-1-y-fire",
            task_queue=queue,
        )
        await env.sleep(600)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert stand_ins.cancelled == ["schedule-1-y-fire-0001", "schedule-1-y-fire-0002"]
    assert stand_ins.checks >= 5
