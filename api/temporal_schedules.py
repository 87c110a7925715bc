"""Schedules in Temporal: each fire starts a ScheduledFire workflow, which queues the runs.

Temporal keeps the timing, pause state and fire history, so `temporal schedule list`,
`describe`, `trigger` and the Web UI see and steer the same schedules as the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.queues import WORKFLOW_TASK_QUEUE
from core.search_attributes import PROJECT_ID
from store.models import Schedule as ScheduleRow
from workflows.messages import ScheduleFire
from workflows.scheduled_fire import ScheduledFireWorkflow

OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}
CATCHUP_WINDOW = timedelta(minutes=10)
"""Fires missed while the service was down are made up for only if this recent."""
NEXT_TIMES = 5


@dataclass(frozen=True)
class ScheduleStatus:
    """What Temporal says of a schedule now."""

    paused: bool
    note: str | None
    next_run_times: list[datetime]


def _attributes(row: ScheduleRow) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(PROJECT_ID, str(row.project_id))])


def temporal_schedule(row: ScheduleRow, paused: bool) -> Schedule:
    """The Temporal schedule of a stored schedule row."""
    if row.cron is not None:
        spec = ScheduleSpec(cron_expressions=[row.cron], time_zone_name=row.time_zone)
    else:
        assert row.interval_s is not None
        every = timedelta(seconds=row.interval_s)
        spec = ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)])
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ScheduledFireWorkflow.run,
            ScheduleFire(schedule_id=row.id, project_id=row.project_id),
            id=f"{row.id}-fire",
            task_queue=WORKFLOW_TASK_QUEUE,
            typed_search_attributes=_attributes(row),
        ),
        spec=spec,
        policy=SchedulePolicy(overlap=OVERLAP[row.overlap], catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(paused=paused, note="created paused" if paused else None),
    )


async def create(client: Client, row: ScheduleRow, paused: bool) -> None:
    """Create the Temporal schedule (RPCError INVALID_ARGUMENT for a bad cron expression)."""
    await client.create_schedule(
        row.id,
        temporal_schedule(row, paused),
        memo={"name": row.name, "projectId": row.project_id},
        search_attributes=_attributes(row),
    )


async def replace(client: Client, row: ScheduleRow, paused: bool) -> None:
    """Give the Temporal schedule the row's target, timing, overlap and pause state (a full
    replacement; its fire history stays)."""

    async def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=temporal_schedule(row, paused))

    await client.get_schedule_handle(row.id).update(updated)


async def status(client: Client, schedule_id: str) -> ScheduleStatus:
    described = await client.get_schedule_handle(schedule_id).describe()
    return ScheduleStatus(
        paused=described.schedule.state.paused,
        note=described.schedule.state.note or None,
        next_run_times=list(described.info.next_action_times[:NEXT_TIMES]),
    )
