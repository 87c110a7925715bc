"""Where a slot-refill gap goes, read from the next run's histories (its run workflow and its
session workflow) and its first `step_started` event: the grant, the session's opening, the
session activity's dispatch, the session workflow's first task and the first step's start."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from core.run_ids import session_workflow_id

PARTS = (
    ("previous run's end to the grant's signal (slot freed, bell, admission pass)", "grant"),
    ("the signal to `open_session` scheduled (a workflow task)", "open_scheduled"),
    ("`open_session` scheduled to completed (dispatch, the warm context taken)", "opened"),
    ("that to `run_session` started (a workflow task, the activity's dispatch)", "session_started"),
    ("that to the session workflow's first task (its start)", "session_task"),
    ("that to the first step's start (the task, the local activity)", "first_step"),
)


@dataclass
class Moments:
    """Times (seconds since the epoch) of the events a refill passes through, for one run."""

    grant: float
    open_scheduled: float
    opened: float
    session_started: float
    session_task: float


async def moments(client: Client, job_id: str) -> Moments:
    """The run's first grant, session opening and session start, from its histories."""
    found: dict[str, float] = {}
    scheduled: dict[int, str] = {}
    run = await client.get_workflow_handle(job_id).fetch_history()
    for event in run.events:
        at = event.event_time.ToDatetime().timestamp()
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            if event.workflow_execution_signaled_event_attributes.signal_name == "admit":
                found.setdefault("grant", at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
            if name == "open_session":
                found.setdefault("open_scheduled", at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            origin = event.activity_task_started_event_attributes.scheduled_event_id
            if scheduled.get(origin) == "run_session":
                found.setdefault("session_started", at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            origin = event.activity_task_completed_event_attributes.scheduled_event_id
            if scheduled.get(origin) == "open_session":
                found.setdefault("opened", at)
    session = await client.get_workflow_handle(session_workflow_id(job_id, 1)).fetch_history()
    for event in session.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            found["session_task"] = event.event_time.ToDatetime().timestamp()
            break
    return Moments(**found)


def breakdown(previous_ends: list[float], nexts: list[Moments], first_steps: list[float]) -> str:
    """The p50 of each part over the refills, one line each."""
    spans: dict[str, list[float]] = {key: [] for _, key in PARTS}
    for end, moment, first_step in zip(previous_ends, nexts, first_steps, strict=True):
        marks = [
            end,
            moment.grant,
            moment.open_scheduled,
            moment.opened,
            moment.session_started,
            moment.session_task,
            first_step,
        ]
        for (_, key), start, stop in zip(PARTS, marks, marks[1:], strict=False):
            spans[key].append((stop - start) * 1000)
    return "\n".join(f"  {label:86}{statistics.median(spans[key]):6.1f} ms" for label, key in PARTS)
