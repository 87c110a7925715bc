"""Suite runs: the runs one request of a suite made (and their retries), as one thing: its
state, counts, progress and wall time, its JUnit report, and a retry of what did not pass."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ProjectDep, ServicesDep, SessionDep
from api.errors import ApiError, not_found
from api.queueing import queue_retry, test_to_retry
from api.routes.runs import JUNIT_RESPONSE, RunSummary, junit_response, run_summary
from api.schemas import QueuedJob, SuiteQueued
from core.run_state import FINAL_STATES, RETRYABLE_STATES, RunState
from store.models import Project, Run
from store.suite_runs import run_span, suite_run_rows, wall_time_s

router = APIRouter(prefix="/api/suite-runs", tags=["runs"])


class SuiteRun(BaseModel):
    suiteRunId: str  # noqa: N815
    suiteId: int | None  # noqa: N815
    suiteName: str | None  # noqa: N815
    state: str = Field(description="waiting, active, completed, or failed if any run did not pass")
    counts: dict[str, int] = Field(description="its runs by state (the latest run of each test)")
    progress: int = Field(description="percent of its runs that have ended")
    wallTimeS: float | None = Field(  # noqa: N815
        description="from its first run's start to its last run's end (so far)"
    )
    startedAt: datetime | None  # noqa: N815
    finishedOn: datetime | None  # noqa: N815
    runs: list[RunSummary] = Field(description="the latest run of each test, in queue order")
    retried: list[str] = Field(description="earlier runs that a retry replaced")


async def latest_runs(
    session: AsyncSession, project: Project, suite_run_id: str
) -> tuple[list[Run], list[Run]]:
    """The suite run's latest run of each test (in queue order) and the runs retries replaced;
    404 if the project has no such suite run."""
    assert project.id is not None
    latest, replaced = await suite_run_rows(session, project.id, suite_run_id)
    if not latest:
        raise not_found("suite run", suite_run_id)
    return latest, replaced


def overall_state(runs: list[Run]) -> str:
    """Unfinished while any run is; then completed only if every run completed."""
    states = {run.state for run in runs}
    if RunState.ACTIVE in states:
        return RunState.ACTIVE
    if RunState.WAITING in states:
        return RunState.ACTIVE if states & set(FINAL_STATES) else RunState.WAITING
    return RunState.COMPLETED if states == {RunState.COMPLETED} else RunState.FAILED


def wall_time(runs: list[Run]) -> tuple[datetime | None, datetime | None, float | None]:
    """The first start, the last end once every run has ended, and the wall time so far."""
    started, last = run_span(runs)
    finished = last if all(run.state in FINAL_STATES for run in runs) else None
    return started, finished, wall_time_s(runs)


@router.get("/{suite_run_id}", response_model=SuiteRun)
async def get_suite_run(suite_run_id: str, project: ProjectDep, session: SessionDep) -> SuiteRun:
    """A suite run as one thing: its state, counts, progress and wall time, and its runs."""
    runs, replaced = await latest_runs(session, project, suite_run_id)
    counts: dict[str, int] = {state.value: 0 for state in RunState}
    for run in runs:
        counts[run.state] += 1
    ended = sum(counts[state] for state in FINAL_STATES)
    started, finished, took = wall_time(runs)
    return SuiteRun(
        suiteRunId=suite_run_id,
        suiteId=runs[0].suite_id,
        suiteName=runs[0].suite_name,
        state=overall_state(runs),
        counts=counts,
        progress=round(100 * ended / len(runs)),
        wallTimeS=took,
        startedAt=started,
        finishedOn=finished,
        runs=[RunSummary(**run_summary(run)) for run in runs],
        retried=[run.job_id for run in replaced],
    )


@router.get("/{suite_run_id}/junit.xml", response_class=Response, responses=JUNIT_RESPONSE)
async def suite_run_report(
    suite_run_id: str, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> Response:
    """The suite run's JUnit report, named after its suite (the latest run of each test)."""
    runs, _ = await latest_runs(session, project, suite_run_id)
    return junit_response(runs[0].suite_name or suite_run_id, runs, project, services)


@router.post("/{suite_run_id}/retry", response_model=SuiteQueued)
async def retry_suite_run(
    suite_run_id: str, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> SuiteQueued:
    """Run again, in the same suite run, each test whose latest run failed, timed out or was
    cancelled; 409 while a run of it is unfinished or when every run passed."""
    runs, _ = await latest_runs(session, project, suite_run_id)
    if any(run.state not in FINAL_STATES for run in runs):
        raise ApiError(409, "suite_run_unfinished", f"suite run {suite_run_id} is still running")
    again = [run for run in runs if run.state in RETRYABLE_STATES]
    if not again:
        raise ApiError(409, "nothing_to_retry", f"every run of suite run {suite_run_id} passed")
    tests = [await test_to_retry(session, project, run) for run in again]  # all, or none
    queued = [
        await queue_retry(session, services, project, run, test)
        for run, test in zip(again, tests, strict=True)
    ]
    jobs = [QueuedJob(jobId=r.job_id, testId=r.test_id or 0, position=p) for r, p in queued]
    return SuiteQueued(
        suiteRunId=suite_run_id,
        jobs=jobs,
        message=f"{len(jobs)} run{'s' * (len(jobs) != 1)} of the suite run queued again",
    )
