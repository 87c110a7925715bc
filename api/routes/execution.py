"""Execution routes the frontend calls: queue, watch, cancel, retry, pause and resume runs."""

from __future__ import annotations

import asyncio
import contextlib
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import (
    Credentials,
    ProjectDep,
    ServicesDep,
    SessionDep,
    TemporalDep,
    current_project,
    get_services,
    token_of,
)
from api.errors import ApiError, not_found
from api.queueing import (
    queue_retry,
    queue_runs,
    queue_test_run,
    queued_answer,
    test_to_retry,
)
from api.routes.owned import owned
from api.schemas import (
    Cleaned,
    CleanRequest,
    Done,
    Job,
    JobStatus,
    QueueCounts,
    Queued,
    QueuedJob,
    QueueStatus,
    SuiteQueued,
    WaitingRun,
    WaitingRuns,
)
from api.services import Services
from core.run_result import RunProgress
from core.run_state import (
    FAILED_STATES,
    FINAL_STATES,
    RETRYABLE_STATES,
    UNFINISHED_STATES,
    RunState,
)
from dispatch.run_variables import variables_shown
from live.cache import JOB_STATUS_TTL_S, QUEUE_COUNTS_TTL_S, queue_counts_key
from live.events import queue_event
from store.admission import paused_all
from store.models import Project, Run, Suite, TestCase
from store.new_runs import SuiteTestsMissing, suite_tests
from store.queue import position_column, queued_count, queued_page
from store.retention import COMPLETED_STATES
from workflows.test_run import TestRunWorkflow

router = APIRouter(prefix="/api/execution", tags=["execution"])
QUERY_TIMEOUT_S = 2.0
SETTLE_WAIT_S = 0.5
SETTLE_POLL_S = 0.02


EnvironmentQuery = Annotated[
    str | None,
    Query(description="the environment whose variables override the project's own"),
]


async def _queue_test(
    test_id: int,
    priority: str,
    credentials: Credentials,
    request: Request,
    environment: str | None,
) -> Queued:
    services = await get_services(request)
    if environment is None:
        run, position = await queue_test_run(services, token_of(credentials), test_id, priority)
        return queued_answer(run, position)
    async with AsyncSession(services.engine, expire_on_commit=False) as session:
        project = await current_project(credentials, session)
        test = await owned(session, TestCase, test_id, project, "test")
        [(run, position)] = await queue_runs(
            session, services, project, [test], priority, environment=environment
        )
    return queued_answer(run, position)


# A plain run request (a Bearer token, a numeric id) is answered by api/fast_run_route.py before
# these routes are tried; they answer every other one, and document both in the OpenAPI schema.
# They take one dependency; the token is checked together with the batch's.


@router.post("/test/{test_id}/run", response_model=Queued)
async def run_test(
    test_id: int, credentials: Credentials, request: Request, environment: EnvironmentQuery = None
) -> Queued:
    """Queue a run of the test; answers at once with its position."""
    return await _queue_test(test_id, "regular", credentials, request, environment)


@router.post("/test/{test_id}/run-live", response_model=Queued)
async def run_test_live(
    test_id: int, credentials: Credentials, request: Request, environment: EnvironmentQuery = None
) -> Queued:
    """Queue a run at higher priority: it starts before every regular run."""
    return await _queue_test(test_id, "live", credentials, request, environment)


@router.post("/suite/{suite_id}/run", response_model=SuiteQueued)
async def run_suite(
    suite_id: int,
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
    priority: Annotated[
        Literal["regular", "live"], Query(description="`live` runs go before regular ones")
    ] = "regular",
    environment: EnvironmentQuery = None,
) -> SuiteQueued:
    """Queue a run of every test of the suite, in the suite's order."""
    suite = await owned(session, Suite, suite_id, project, "suite")
    try:
        tests = await suite_tests(session, suite)
    except SuiteTestsMissing as missing:
        raise ApiError(409, "suite_tests_missing", str(missing)) from None
    queued = await queue_runs(
        session, services, project, tests, priority, suite_id=suite_id, environment=environment
    )
    jobs = [
        QueuedJob(jobId=run.job_id, testId=run.test_id or 0, position=position)
        for run, position in queued
    ]
    return SuiteQueued(
        suiteRunId=queued[0][0].suite_run_id if queued else None,
        jobs=jobs,
        message=f"{len(jobs)} tests of suite {suite_id} queued, the longest first",
    )


async def find_run(session: AsyncSession, project: Project, job_id: str) -> Run:
    """The project's run with this job ID, else 404."""
    found = await session.exec(
        select(Run).where(Run.job_id == job_id, Run.project_id == project.id)
    )
    run = found.first()
    if run is None:
        raise not_found("job", job_id)
    return run


async def find_run_and_position(
    session: AsyncSession, project: Project, job_id: str
) -> tuple[Run, int | None]:
    """The project's run with this job ID and its position, in one query; else 404."""
    found = await session.exec(
        select(Run, position_column()).where(Run.job_id == job_id, Run.project_id == project.id)
    )
    row = found.first()
    if row is None:
        raise not_found("job", job_id)
    return row[0], row[1]


async def query_progress(services: Services, job_id: str) -> dict[str, Any] | None:
    """The workflow's own view of a run, asked now; None if it cannot answer quickly."""
    with contextlib.suppress(Exception):
        client = await services.temporal.client()
        handle = client.get_workflow_handle_for(TestRunWorkflow.run, job_id)
        found = await asyncio.wait_for(handle.query(TestRunWorkflow.progress), QUERY_TIMEOUT_S)
        return found.model_dump(mode="json")
    return None


async def live_progress(services: Services, job_id: str) -> RunProgress | None:
    """The workflow's own view of a run in progress, cached for a second (a thousand watchers
    make one query a second); None if it cannot answer quickly."""
    key = f"cache:progress:{job_id}"
    found = await services.cache.get_or_compute(
        key, JOB_STATUS_TTL_S, partial(query_progress, services, job_id)
    )
    return None if found is None else RunProgress.model_validate(found)


async def settled_progress(services: Services, job_id: str) -> RunProgress | None:
    """A run whose context has closed holds no slot any more, so it is no longer `active`:
    its workflow settles the outcome within moments of the close. Ask it afresh (never the
    cache) until it has, for at most SETTLE_WAIT_S."""
    deadline = asyncio.get_running_loop().time() + SETTLE_WAIT_S
    while True:
        found = await query_progress(services, job_id)
        progress = None if found is None else RunProgress.model_validate(found)
        if progress is None or progress.state != RunState.ACTIVE:
            return progress
        if asyncio.get_running_loop().time() >= deadline:
            return progress
        await asyncio.sleep(SETTLE_POLL_S)


@router.get("/job/{job_id}", response_model=JobStatus)
async def job_status(
    job_id: str, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> JobStatus:
    """Where a run stands: state, position while queued, progress, attempts, result.

    A queued run is answered from the database alone; a started one asks its workflow.
    """
    run, position = await find_run_and_position(session, project, job_id)
    result = run.outcome
    state, progress = run.state, run.progress
    finished_at = run.finished_at
    if position is None and state in UNFINISHED_STATES:
        if run.slot_freed_at is None:
            live = await live_progress(services, job_id)
        else:
            live = await settled_progress(services, job_id)
        if live is not None:
            state, progress, result = live.state, live.progress, live
            finished_at = finished_at or live.finished_at
    attempts = len(result.session_attempts) if result else 0
    return JobStatus(
        job=Job(
            jobId=run.job_id,
            testId=run.test_id,
            testName=run.test_name,
            suiteName=run.suite_name,
            state=state,
            position=position,
            progress=progress,
            attempts=attempts,
            createdAt=run.created_at,
            startedAt=run.started_at,
            finishedOn=finished_at,
            result=result,
            environment=run.environment,
            variables=variables_shown(run.run_input),
        )
    )


async def project_counts(
    services: Services, session: AsyncSession, project_id: int
) -> dict[str, int]:
    """The project's runs by state, from the short cache (forgotten whenever one changes)."""

    async def count() -> dict[str, int]:
        return await services.queue.counts(session, project_id)

    return dict(
        await services.cache.get_or_compute(queue_counts_key(project_id), QUEUE_COUNTS_TTL_S, count)
    )


@router.get("/queue/status", response_model=QueueStatus)
async def queue_status(
    project: ProjectDep, session: SessionDep, services: ServicesDep
) -> QueueStatus:
    """Runs of the caller's project by state (each state its own count, as the dashboard
    shows them); paused by the project or by the admin."""
    assert project.id is not None
    counts = await project_counts(services, session, project.id)
    waiting = counts.get(RunState.WAITING, 0)
    paused = project.paused or await paused_all(session)
    return QueueStatus(
        queue=QueueCounts(
            waiting=waiting,
            active=counts.get(RunState.ACTIVE, 0),
            completed=counts.get(RunState.COMPLETED, 0),
            failed=counts.get(RunState.FAILED, 0),
            cancelled=counts.get(RunState.CANCELLED, 0),
            timed_out=counts.get(RunState.TIMED_OUT, 0),
            delayed=0,
            paused=waiting if paused else 0,
            isPaused=paused,
        )
    )


@router.get("/queue/waiting", response_model=WaitingRuns)
async def waiting_runs(
    project: ProjectDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> WaitingRuns:
    """The project's queued runs in queue order, each with its position (a page of them)."""
    assert project.id is not None
    page = await queued_page(session, project.id, offset, limit)
    runs = [
        WaitingRun(
            position=position,
            jobId=run.job_id,
            testId=run.test_id,
            testName=run.test_name,
            priority=run.priority,
            createdAt=run.created_at,
        )
        for position, run in page
    ]
    return WaitingRuns(total=await queued_count(session, project.id), runs=runs)


@router.post("/job/{job_id}/cancel", response_model=Done)
async def cancel_job(
    job_id: str,
    project: ProjectDep,
    session: SessionDep,
    client: TemporalDep,
    services: ServicesDep,
) -> Done:
    """Cancel a waiting or running run.

    A waiting run leaves the queue at once (every run behind it moves up); a running step is
    interrupted and the context torn down.
    """
    run = await find_run(session, project, job_id)
    if run.state in FINAL_STATES:
        raise ApiError(409, "job_finished", f"job {job_id} already ended ({run.state})")
    if await services.queue.cancel_waiting(session, run.job_id):
        await services.cache.forget(queue_counts_key(run.project_id))
        services.dispatcher.wake()  # the runs behind it move up: new positions at once
        with contextlib.suppress(Exception):  # no workflow yet, or Temporal away: the
            await client.get_workflow_handle(job_id).cancel()  # dispatcher never starts it
        return Done(message=f"Job {job_id} cancelled before it started")
    try:
        await client.get_workflow_handle(job_id).cancel()
    except Exception:
        raise ApiError(503, "temporal_unavailable", "the cancellation could not be sent") from None
    return Done(message=f"Job {job_id} is being cancelled")


@router.post("/job/{job_id}/retry", response_model=Queued)
async def retry_job(
    job_id: str,
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
) -> Queued:
    """Run a failed, timed-out or cancelled run's test again, as a new job."""
    run = await find_run(session, project, job_id)
    if run.state not in RETRYABLE_STATES:
        raise ApiError(
            409,
            "job_not_retryable",
            f"job {job_id} is {run.state}; only failed, timed-out or cancelled jobs can be retried",
        )
    test = await test_to_retry(session, project, run)
    again, position = await queue_retry(session, services, project, run, test)
    return queued_answer(again, position)


@router.post("/queue/pause", response_model=Done)
async def pause_queue(project: ProjectDep, session: SessionDep, services: ServicesDep) -> Done:
    """Start no new run of the project; running ones finish, waiting ones keep their place."""
    project.paused = True
    session.add(project)
    await session.commit()
    services.events.publish(queue_event(project.id or 0, True))
    return Done(message="Queue paused")


@router.post("/queue/resume", response_model=Done)
async def resume_queue(project: ProjectDep, session: SessionDep, services: ServicesDep) -> Done:
    """Start the project's runs again, in their order."""
    project.paused = False
    session.add(project)
    await session.commit()
    services.dispatcher.wake()
    services.events.publish(queue_event(project.id or 0, False))
    return Done(message="Queue resumed")


@router.post("/queue/clean", response_model=Cleaned)
async def clean_queue(body: CleanRequest, project: ProjectDep, services: ServicesDep) -> Cleaned:
    """Delete the project's finished runs of one kind (and their artifacts), but the newest
    `keep`."""
    assert project.id is not None
    states = COMPLETED_STATES if body.state == RunState.COMPLETED else FAILED_STATES
    removed = await services.retention.clean(project.id, states, body.keep)
    await services.cache.forget(queue_counts_key(project.id))
    return Cleaned(removed=removed, message=f"{removed} {body.state} runs removed")
