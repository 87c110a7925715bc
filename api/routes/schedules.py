"""Schedules of tests and suites: create, list, describe, pause, resume, trigger, delete.

Each is a Temporal schedule of the same ID; its fires queue runs at scheduled priority, behind
the project's live and regular runs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from api import temporal_schedules
from api.deps import ProjectDep, SessionDep, TemporalDep
from api.errors import ApiError, not_found
from api.routes.owned import owned
from api.schedule_schemas import ScheduleCreate, ScheduledRun, ScheduleNote, SchedulePublic
from api.schemas import Done
from store.models import Project, Run, Schedule, Suite, TestCase

router = APIRouter(prefix="/api/schedules", tags=["schedules"])
RECENT_RUNS = 10
NoteBody = Annotated[ScheduleNote | None, Body()]


def _temporal_failure(error: RPCError) -> ApiError:
    if error.status == RPCStatusCode.INVALID_ARGUMENT:
        return ApiError(422, "invalid_schedule", f"Temporal refused the schedule: {error.message}")
    return ApiError(503, "temporal_unavailable", f"Temporal did not answer: {error.message}")


async def _owned_schedule(session: AsyncSession, project: Project, schedule_id: str) -> Schedule:
    row = await session.get(Schedule, schedule_id) if len(schedule_id) <= 100 else None
    if row is None or row.project_id != project.id:
        raise not_found("schedule", schedule_id)
    return row


async def _public(session: AsyncSession, client: Client, row: Schedule) -> SchedulePublic:
    """The stored schedule with Temporal's state of it and its newest runs."""
    try:
        now = await temporal_schedules.status(client, row.id)
        paused, note, next_times = now.paused, now.note, now.next_run_times
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise _temporal_failure(error) from None
        paused, note, next_times = True, "the Temporal schedule was deleted", []
    runs = await session.exec(
        select(Run).where(Run.schedule_id == row.id).order_by(col(Run.id).desc()).limit(RECENT_RUNS)
    )
    return SchedulePublic(
        id=row.id,
        name=row.name,
        test_id=row.test_id,
        suite_id=row.suite_id,
        cron=row.cron,
        interval_s=row.interval_s,
        time_zone=row.time_zone,
        overlap=row.overlap,
        paused=paused,
        note=note,
        next_run_times=next_times,
        recent_runs=[
            ScheduledRun(jobId=r.job_id, testId=r.test_id, state=r.state, createdAt=r.created_at)
            for r in runs.all()
        ],
        created_at=row.created_at,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SchedulePublic)
async def create_schedule(
    body: ScheduleCreate, project: ProjectDep, session: SessionDep, client: TemporalDep
) -> SchedulePublic:
    """Schedule a test or a suite; its runs queue at scheduled priority (after live and
    regular runs). A fire is skipped while the previous fire's runs run, unless `overlap`
    says otherwise."""
    if body.test_id is not None:
        await owned(session, TestCase, body.test_id, project, "test")
    if body.suite_id is not None:
        await owned(session, Suite, body.suite_id, project, "suite")
    assert project.id is not None
    row = Schedule(
        id=f"schedule-{project.id}-{uuid.uuid4().hex[:12]}",
        project_id=project.id,
        **body.model_dump(exclude={"paused"}),
    )
    try:
        await temporal_schedules.create(client, row, body.paused)
    except RPCError as error:
        raise _temporal_failure(error) from None
    session.add(row)
    try:
        await session.commit()
    except Exception:
        await client.get_schedule_handle(row.id).delete()
        raise
    return await _public(session, client, row)


@router.get("", response_model=list[SchedulePublic])
async def list_schedules(
    project: ProjectDep, session: SessionDep, client: TemporalDep
) -> list[SchedulePublic]:
    """The project's schedules, oldest first."""
    rows = await session.exec(
        select(Schedule).where(Schedule.project_id == project.id).order_by(col(Schedule.created_at))
    )
    return [await _public(session, client, row) for row in rows.all()]


@router.get("/{schedule_id}", response_model=SchedulePublic)
async def describe_schedule(
    schedule_id: str, project: ProjectDep, session: SessionDep, client: TemporalDep
) -> SchedulePublic:
    """The schedule, its next run times and its newest runs."""
    row = await _owned_schedule(session, project, schedule_id)
    return await _public(session, client, row)


@router.post("/{schedule_id}/pause", response_model=SchedulePublic)
async def pause_schedule(
    schedule_id: str,
    project: ProjectDep,
    session: SessionDep,
    client: TemporalDep,
    body: NoteBody = None,
) -> SchedulePublic:
    """Stop firing (runs already queued are not affected)."""
    return await _set_paused(True, schedule_id, project, session, client, body)


@router.post("/{schedule_id}/resume", response_model=SchedulePublic)
async def resume_schedule(
    schedule_id: str,
    project: ProjectDep,
    session: SessionDep,
    client: TemporalDep,
    body: NoteBody = None,
) -> SchedulePublic:
    """Fire again at the next scheduled time."""
    return await _set_paused(False, schedule_id, project, session, client, body)


async def _set_paused(
    paused: bool,
    schedule_id: str,
    project: Project,
    session: AsyncSession,
    client: Client,
    body: ScheduleNote | None,
) -> SchedulePublic:
    row = await _owned_schedule(session, project, schedule_id)
    handle = client.get_schedule_handle(row.id)
    if body is not None and body.note:
        note = body.note
    else:
        note = f"{'paused' if paused else 'resumed'} through the API"
    await _act(handle.pause(note=note) if paused else handle.unpause(note=note))
    return await _public(session, client, row)


@router.post("/{schedule_id}/trigger", response_model=Done)
async def trigger_schedule(
    schedule_id: str, project: ProjectDep, session: SessionDep, client: TemporalDep
) -> Done:
    """Fire now, whatever the overlap policy (the runs queue within a second)."""
    row = await _owned_schedule(session, project, schedule_id)
    handle = client.get_schedule_handle(row.id)
    await _act(handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL))
    return Done(message=f"Schedule {row.id} triggered")


@router.delete("/{schedule_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_schedule(
    schedule_id: str, project: ProjectDep, session: SessionDep, client: TemporalDep
) -> Response:
    """Delete the schedule; its runs stay in the history."""
    row = await _owned_schedule(session, project, schedule_id)
    try:
        await client.get_schedule_handle(row.id).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise _temporal_failure(error) from None
    await session.delete(row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _act(call: Awaitable[None]) -> None:
    """Await a schedule call; Temporal's refusals become API errors."""
    try:
        await call
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "schedule_gone", "the Temporal schedule was deleted") from None
        raise _temporal_failure(error) from None
