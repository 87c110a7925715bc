"""Starting runs and reading their outcome in tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
)
from temporalio.exceptions import ApplicationError

from browser.pool import BrowserPool
from core.queues import WORKFLOW_TASK_QUEUE
from core.run_ids import session_workflow_id
from core.run_result import RunProgress
from store.db import create_engine
from store.models import Project, Run
from workflows.messages import RunInput, SlotHandover
from workflows.test_run import TestRunWorkflow

T = TypeVar("T")


def pause_test(pages_url: str, ms: int) -> dict:
    """A test whose only step pauses `ms` milliseconds on the demo shop."""
    return {
        "name": f"pause {ms} ms",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "wait", "value": str(ms)}],
    }


def stuck_test(pages_url: str, **extra: object) -> dict:
    """A test whose second step waits 30 s for an element that never appears."""
    return {
        "name": "stuck",
        "start_url": pages_url + "shop.html",
        "steps": [
            {"action": "click", "selector": "#buy"},
            {"action": "wait", "selector": "#never-appears", "timeout_ms": 30_000},
        ],
        **extra,
    }


async def start_run(
    client: Client, job_id: str, test: dict[str, Any], **extra: Any
) -> WorkflowHandle:
    """Start a TestRun workflow for a raw test definition."""
    return await client.start_workflow(
        TestRunWorkflow.run,
        RunInput(test=test, **extra),
        id=job_id,
        task_queue=WORKFLOW_TASK_QUEUE,
    )


async def start_admitted(
    client: Client, job_id: str, test: dict[str, Any], handover: SlotHandover | None = None
) -> WorkflowHandle:
    """Start a queued run with its grant, as the dispatcher does (into the slot of the run
    that `handover` names, as its successor, if given)."""
    return await client.start_workflow(
        TestRunWorkflow.run,
        RunInput(test=test, admission=True),
        id=job_id,
        task_queue=WORKFLOW_TASK_QUEUE,
        start_signal="admit",
        start_signal_args=[handover] if handover else [],
    )


async def outcome(handle: WorkflowHandle, timeout: float = 120) -> RunProgress:
    """The final RunProgress of a run, whether it completed or failed."""
    try:
        return await asyncio.wait_for(handle.result(), timeout)
    except WorkflowFailureError as failure:
        cause = failure.cause
        assert isinstance(cause, ApplicationError), f"unexpected failure {failure!r}"
        return RunProgress.model_validate(cause.details[0])


async def progress(handle: WorkflowHandle) -> RunProgress:
    """The run's progress query."""
    return await handle.query(TestRunWorkflow.progress)


async def poll(
    read: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    why: Callable[[T], str],
    timeout: float,
    interval: float = 0.1,
) -> T:
    """Read every `interval` s until done(value) holds; TimeoutError(why(last value)) after
    timeout s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await read()
        if done(current):
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(why(current))
        await asyncio.sleep(interval)


async def until_closed(handle: WorkflowHandle, timeout: float = 60) -> WorkflowExecutionStatus:
    """Wait until the workflow is no longer running; its final status."""
    described = await poll(
        handle.describe,
        lambda d: d.status != WorkflowExecutionStatus.RUNNING,
        lambda d: f"{handle.id} is still {d.status}",
        timeout,
        interval=0.05,
    )
    assert described.status is not None
    return described.status


async def wait_for_progress(handle: WorkflowHandle, predicate, timeout: float = 60) -> RunProgress:  # type: ignore[no-untyped-def]
    """Poll the progress query until predicate(progress) holds."""
    return await poll(
        lambda: progress(handle),
        predicate,
        lambda last: f"progress never matched; last: {last}",
        timeout,
    )


async def until_no_context_is_open(
    pool: BrowserPool, timeout: float = 60, job_id: str | None = None
) -> None:
    """Wait until the shared worker holds no context (of `job_id`, if given): runs of earlier
    tests may still be closing theirs (or, if they were cancelled while opening one, waiting
    for the reaper)."""

    async def open_runs() -> list[str]:
        return [run for run in pool.open_runs() if job_id in (None, run)]

    await poll(
        open_runs, lambda runs: not runs, lambda runs: f"contexts still open for {runs}", timeout
    )


async def history_events(handle: WorkflowHandle) -> list[Any]:
    """Every event of the run's history."""
    history = await handle.fetch_history()
    return list(history.events)


LOCAL_ACTIVITY_MARKER = "core_local_activity"


@dataclass
class AttemptSpan:
    """One activity attempt of a run's session, read from its history."""

    activity: str
    scheduled: float
    closed: float
    failed: bool


async def session_attempt_spans(client: Client, job_id: str, session: int = 1) -> list[AttemptSpan]:
    """The local activities of a run's session workflow, from their markers in its history."""
    history = await client.get_workflow_handle(session_workflow_id(job_id, session)).fetch_history()
    return [span for event in history.events if (span := local_activity_span(event))]


def local_activity_span(event: Any) -> AttemptSpan | None:
    """The local activity a history event records, if it is one's marker."""
    marker = event.marker_recorded_event_attributes
    if event_name(event) != "MARKER_RECORDED" or marker.marker_name != LOCAL_ACTIVITY_MARKER:
        return None
    data = json.loads(marker.details["data"].payloads[0].data)
    return AttemptSpan(
        activity=data["activity_type"],
        scheduled=_seconds(data["original_schedule_time"]),
        closed=_seconds(data["complete_time"]),
        failed=marker.HasField("failure"),
    )


def _seconds(timestamp: dict[str, int]) -> float:
    return timestamp["seconds"] + timestamp.get("nanos", 0) / 1e9


def event_name(event: Any) -> str:
    """EVENT_TYPE_TIMER_STARTED -> TIMER_STARTED."""
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


async def until_no_run_is_underway(database_url: str, timeout: float = 60) -> None:
    """Wait until every stored run that can make progress has ended (runs waiting in paused
    projects cannot): a run whose context has closed still records its outcome after."""
    underway = (col(Run.state) == "active") | (
        (col(Run.state) == "waiting")
        & (col(Run.admitted_at).is_not(None) | col(Project.paused).is_(False))
    )
    engine = create_engine(database_url)

    async def count() -> int:
        async with AsyncSession(engine) as session:
            found = await session.exec(
                select(func.count()).select_from(Run).join(Project).where(underway)
            )
            return int(found.one())

    try:
        await poll(count, lambda n: n == 0, lambda n: f"{n} runs still underway", timeout)
    finally:
        await engine.dispose()


async def next_second_after(fired: datetime) -> None:
    """Wait until the clock has left the second of a fire: Temporal names a schedule's
    workflows by the second they fire in, so a second trigger within it starts nothing."""
    fired = fired if fired.tzinfo else fired.replace(tzinfo=UTC)  # SQLite's are naive UTC
    boundary = fired.replace(microsecond=0) + timedelta(seconds=1)
    while datetime.now(UTC) < boundary:
        await asyncio.sleep(0.05)
