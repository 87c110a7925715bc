"""Where a slot-refill gap goes, read from the next run's histories (its run workflow and its
session workflow) and its live events (its context opened, its first step started).

A run granted a free slot passes through the grant, the session's opening, the session
activity's dispatch, the session workflow's first task and the first step's start. A successor
(dispatch.successors) was granted and dispatched while its predecessor ran: its gap is the
handover on the worker, the session workflow's eager start and the first step's start.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from core.run_ids import session_workflow_id

GRANTED_PARTS = (
    ("previous run's end to the grant's signal (slot freed, bell, admission pass)", "grant"),
    ("the signal to `open_session` scheduled (a workflow task)", "open_scheduled"),
    ("`open_session` scheduled to its context opened (dispatch, the warm context)", "opened"),
    ("that to `run_session` started (a workflow task, the activity's dispatch)", "session_started"),
    ("that to the session workflow's first task (its start)", "session_task"),
    ("that to the first step's start (the task, the local activity)", "first_step"),
)
HANDED_OVER_PARTS = (
    ("previous run's end to the successor's context opened (the handover)", "opened"),
    ("that to the session workflow's first task (its eager start)", "session_task"),
    ("that to the first step's start (the task, the local activity)", "first_step"),
)


@dataclass
class Moments:
    """Times (seconds since the epoch) of the events a refill passes through, for one run."""

    handed_over: bool
    session_task: float
    grant: float = 0.0
    open_scheduled: float = 0.0
    session_started: float = 0.0


async def moments(client: Client, job_id: str) -> Moments:
    """The run's first grant, session opening and session start, from its histories."""
    found: dict[str, float] = {}
    scheduled: dict[int, str] = {}
    handed_over = False
    run = await client.get_workflow_handle(job_id).fetch_history()
    for event in run.events:
        at = event.event_time.ToDatetime().timestamp()
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            signal = event.workflow_execution_signaled_event_attributes.signal_name
            if signal == "admit":
                found.setdefault("grant", at)
            handed_over |= signal == "session_opened"
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            scheduled[event.event_id] = name
            if name == "open_session":
                found.setdefault("open_scheduled", at)
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            origin = event.activity_task_started_event_attributes.scheduled_event_id
            if scheduled.get(origin) == "run_session":
                found.setdefault("session_started", at)
    session = await client.get_workflow_handle(session_workflow_id(job_id, 1)).fetch_history()
    for event in session.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            found["session_task"] = event.event_time.ToDatetime().timestamp()
            break
    return Moments(handed_over=handed_over, **found)


def breakdown(
    previous_ends: list[float], nexts: list[Moments], opened: list[float], first_steps: list[float]
) -> str:
    """The p50 of each part over the refills, one line each, for granted runs and successors
    apart (`opened`: each next run's context opened, from its live events)."""
    lines = []
    for handed_over, parts in ((False, GRANTED_PARTS), (True, HANDED_OVER_PARTS)):
        spans: dict[str, list[float]] = {key: [] for _, key in parts}
        for end, moment, open_at, first_step in zip(
            previous_ends, nexts, opened, first_steps, strict=True
        ):
            if moment.handed_over != handed_over:
                continue
            at = {**vars(moment), "opened": open_at, "first_step": first_step}
            marks = [end, *(at[key] for _, key in parts)]
            for (_, key), start, stop in zip(parts, marks[:-1], marks[1:], strict=True):
                spans[key].append((stop - start) * 1000)
        count = len(spans[parts[0][1]])
        if count:
            kind = "successors (slot handed over)" if handed_over else "runs granted a free slot"
            lines.append(f"  {kind}: {count}")
            lines += [
                f"    {label:84}{statistics.median(spans[key]):6.1f} ms" for label, key in parts
            ]
    return "\n".join(lines)
