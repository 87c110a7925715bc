"""Schedules of tests and suites: create, edit, list, describe, pause, resume, trigger, delete.

Each is a Temporal schedule of the same ID; its fires queue runs at scheduled priority, behind
the project's live and regular runs."""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Awaitable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response, status
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from api import temporal_schedules
from api.deps import ProjectDep, ServicesDep, SessionDep, TemporalDep, temporal_client
from api.errors import ApiError, not_found
from api.routes.owned import owned
from api.routes.variables import existing_environment
from api.schedule_schemas import ScheduleCreate, ScheduledRun, ScheduleNote, SchedulePublic
from api.schemas import Done
from api.services import Services
from core.limits import ProjectLimits
from store.models import Project, Run, Schedule, Suite, TestCase

router = APIRouter(prefix="/api/schedules", tags=["schedules"])
RECENT_RUNS = 10
NoteBody = Annotated[ScheduleNote | None, Body()]


def _temporal_failure(error: RPCError) -> ApiError:
    if error.status == RPCStatusCode.INVALID_ARGUMENT:
        return ApiError(422, "invalid_schedule", f"Temporal refused the schedule: {error.message}")
    return ApiError(503, "temporal_unavailable", f"Temporal did not answer: {error.message}")


async def _room_for_another(session: AsyncSession, project_id: int, limits: ProjectLimits) -> None:
    """409 when the project already has as many schedules as its limit allows."""
    count = await session.exec(
        select(func.count()).select_from(Schedule).where(Schedule.project_id == project_id)
    )
    if count.one() >= limits.max_schedules:
        raise ApiError(
            409,
            "limit_reached",
            f"this project may have at most {limits.max_schedules} schedules (the admin's limit)",
        )


def _shortest_gap_s(times: list[datetime]) -> float:
    """The shortest time between consecutive fires (infinite with fewer than two)."""
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    return min(gaps, default=math.inf)


def _too_often(limits: ProjectLimits) -> ApiError:
    return ApiError(
        422,
        "limit_exceeded",
        f"schedules of this project fire at most every {limits.min_schedule_interval_s} s",
    )


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
        environment=row.environment,
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
    body: ScheduleCreate,
    project: ProjectDep,
    session: SessionDep,
    client: TemporalDep,
    services: ServicesDep,
) -> SchedulePublic:
    """Schedule a test or a suite; its runs queue at scheduled priority (after live and
    regular runs). A fire is skipped while the previous fire's runs run, unless `overlap`
    says otherwise."""
    limits = await _checked(session, project, body, services)
    assert project.id is not None
    await _room_for_another(session, project.id, limits)
    row = Schedule(
        id=f"schedule-{project.id}-{uuid.uuid4().hex[:12]}",
        project_id=project.id,
        **body.model_dump(exclude={"paused"}),
    )
    try:
        await temporal_schedules.create(client, row, body.paused)
        fires = (await temporal_schedules.status(client, row.id)).next_run_times
    except RPCError as error:
        raise _temporal_failure(error) from None
    if _shortest_gap_s(fires) < limits.min_schedule_interval_s:
        await client.get_schedule_handle(row.id).delete()
        raise _too_often(limits)
    session.add(row)
    try:
        await session.commit()
    except Exception:
        await client.get_schedule_handle(row.id).delete()
        raise
    return await _public(session, client, row)


async def _checked(
    session: AsyncSession, project: Project, body: ScheduleCreate, services: Services
) -> ProjectLimits:
    """404/422 unless the schedule's test or suite and environment are the project's and its
    interval keeps to the project's limit; the project's limits."""
    if body.test_id is not None:
        await owned(session, TestCase, body.test_id, project, "test")
    if body.suite_id is not None:
        await owned(session, Suite, body.suite_id, project, "suite")
    assert project.id is not None
    if body.environment is not None:
        await existing_environment(session, project.id, body.environment, "environment")
    limits = services.settings.limits_for(project.limits)
    if body.interval_s is not None and body.interval_s < limits.min_schedule_interval_s:
        raise _too_often(limits)
    return limits


@router.put("/{schedule_id}", response_model=SchedulePublic)
async def replace_schedule(
    schedule_id: str,
    body: ScheduleCreate,
    project: ProjectDep,
    session: SessionDep,
    client: TemporalDep,
    services: ServicesDep,
) -> SchedulePublic:
    """Edit a schedule: its name, target, timing, time zone, overlap, environment and pause
    state, all at once (as on creation). Its fire history and recent runs stay."""
    row = await _owned_schedule(session, project, schedule_id)
    limits = await _checked(session, project, body, services)
    before, was_paused = row.model_copy(), (await _public(session, client, row)).paused
    for name, value in body.model_dump(exclude={"paused"}).items():
        setattr(row, name, value)
    try:
        await temporal_schedules.replace(client, row, body.paused)
        fires = (await temporal_schedules.status(client, row.id)).next_run_times
        if _shortest_gap_s(fires) < limits.min_schedule_interval_s:
            await temporal_schedules.replace(client, before, was_paused)
            raise _too_often(limits)
    except RPCError as error:
        raise _temporal_failure(error) from None
    session.add(row)
    await session.commit()
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
    await _delete(session, client, row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _delete(session: AsyncSession, client: Client, row: Schedule) -> None:
    """Delete the Temporal schedule (if it still exists) and the row (not yet committed)."""
    try:
        await client.get_schedule_handle(row.id).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise _temporal_failure(error) from None
    await session.delete(row)


DELETED_SCHEDULES_HEADER = "X-Deleted-Schedules"


async def delete_schedules_of(
    session: AsyncSession, services: Services, target: TestCase | Suite
) -> dict[str, str]:
    """Delete every schedule of a test or suite that is being deleted (uncommitted), so that
    no schedule outlives what it runs; a response header naming them, empty if none."""
    column = Schedule.test_id if isinstance(target, TestCase) else Schedule.suite_id
    rows = await session.exec(
        select(Schedule).where(Schedule.project_id == target.project_id, column == target.id)
    )
    schedules = list(rows.all())
    if not schedules:
        return {}
    client = await temporal_client(services)
    for row in schedules:
        await _delete(session, client, row)
    return {DELETED_SCHEDULES_HEADER: ",".join(row.id for row in schedules)}


async def _act(call: Awaitable[None]) -> None:
    """Await a schedule call; Temporal's refusals become API errors."""
    try:
        await call
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise ApiError(409, "schedule_gone", "the Temporal schedule was deleted") from None
        raise _temporal_failure(error) from None
