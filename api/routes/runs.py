"""Run history: filtered lists, one run in full, and its artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from api import junit
from api.deps import ProjectDep, ServicesDep, SessionDep
from api.errors import not_found
from api.routes.execution import find_run
from api.schemas import RunDetail, RunSummary
from core.run_result import RunProgress, first_line
from core.run_state import RunState
from store.models import Project, Run

router = APIRouter(prefix="/api/runs", tags=["runs"])
MEDIA_TYPES = {".png": "image/png", ".zip": "application/zip"}


def run_summary(run: Run) -> dict:
    return {
        "jobId": run.job_id,
        "testId": run.test_id,
        "testName": run.test_name,
        "suiteId": run.suite_id,
        "suiteName": run.suite_name,
        "scheduleId": run.schedule_id,
        "environment": run.environment,
        "state": run.state,
        "priority": run.priority,
        "progress": run.progress,
        "flaky": run.flaky,
        "error": run.error,
        "reason": first_line(run.error),
        "createdAt": run.created_at,
        "startedAt": run.started_at,
        "finishedOn": run.finished_at,
    }


def artifact_names(result: RunProgress | None) -> list[str]:
    """Every artifact a run recorded: step screenshots, failure screenshots, traces."""
    if result is None:
        return []
    names = [name for step in result.steps for name in step.artifacts]
    if result.auth is not None:
        names += result.auth.artifacts
    return names + result.artifacts


@router.get("", response_model=list[RunSummary])
async def list_runs(
    project: ProjectDep,
    session: SessionDep,
    state: RunState | None = None,
    test_id: int | None = Query(None, ge=1, le=2**62),
    suite_id: int | None = Query(None, ge=1, le=2**62),
    schedule_id: str | None = Query(None, max_length=100),
    name: str | None = Query(
        None, min_length=1, max_length=200, description="the test's name contains this (any case)"
    ),
    since: datetime | None = Query(None, description="created at or after"),
    until: datetime | None = Query(None, description="created before"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[RunSummary]:
    """The project's runs, newest first, filtered by state, test (its ID or a part of its
    name), suite, schedule and time; `limit` and `offset` page through them."""
    assert project.id is not None
    found = RunFilter(state, test_id, suite_id, schedule_id, name, since, until)
    query = found.query(project.id)
    rows = await session.exec(query.order_by(col(Run.id).desc()).offset(offset).limit(limit))
    return [RunSummary(**run_summary(run)) for run in rows.all()]


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which of a project's runs a list shows."""

    state: str | None = None
    test_id: int | None = None
    suite_id: int | None = None
    schedule_id: str | None = None
    name: str | None = None
    """A part of the test's name, in any case."""
    since: datetime | None = None
    until: datetime | None = None

    def query(self, project_id: int) -> SelectOfScalar[Run]:
        """The project's runs that pass the filter."""
        query = select(Run).where(Run.project_id == project_id)
        if self.name:
            lowered = func.lower(col(Run.test_name))
            query = query.where(lowered.contains(self.name.lower(), autoescape=True))
        for column, wanted in (
            (Run.state, self.state),
            (Run.test_id, self.test_id),
            (Run.suite_id, self.suite_id),
            (Run.schedule_id, self.schedule_id),
        ):
            if wanted is not None:
                query = query.where(column == wanted)
        if self.since is not None:
            query = query.where(col(Run.created_at) >= self.since)
        if self.until is not None:
            query = query.where(col(Run.created_at) < self.until)
        return query


JUNIT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/xml": {}}, "description": "A JUnit XML report"}
}
MAX_REPORT_RUNS = 500


def junit_response(name: str, runs: list[Run], project: Project, services: ServicesDep) -> Response:
    """The report, its links built on PUBLIC_URL (never on the request's Host header)."""
    body = junit.report(name, runs, project.name, services.settings.public_origin)
    return Response(body, media_type="application/xml")


@router.get("/junit.xml", response_class=Response, responses=JUNIT_RESPONSE)
async def runs_report(
    services: ServicesDep,
    project: ProjectDep,
    session: SessionDep,
    job: Annotated[
        list[str],
        Query(min_length=1, max_length=MAX_REPORT_RUNS, description="the runs, e.g. a suite's"),
    ],
) -> Response:
    """A JUnit report of these runs (the jobs of one suite request, say), in this order."""
    found = await session.exec(
        select(Run).where(Run.project_id == project.id, col(Run.job_id).in_(job))
    )
    by_job = {run.job_id: run for run in found.all()}
    missing = [job_id for job_id in job if job_id not in by_job]
    if missing:
        raise not_found("job", missing[0])
    runs = [by_job[job_id] for job_id in dict.fromkeys(job)]
    [suite_name, *others] = list({run.suite_name for run in runs})
    name = suite_name if suite_name and not others else f"{len(runs)} run{'s' * (len(runs) > 1)}"
    return junit_response(name, runs, project, services)


@router.get("/{job_id}/junit.xml", response_class=Response, responses=JUNIT_RESPONSE)
async def run_report(
    job_id: str, services: ServicesDep, project: ProjectDep, session: SessionDep
) -> Response:
    """A JUnit report of one run."""
    run = await find_run(session, project, job_id)
    return junit_response(junit.test_name(run), [run], project, services)


@router.get("/{job_id}", response_model=RunDetail)
async def get_run(job_id: str, project: ProjectDep, session: SessionDep) -> RunDetail:
    """One run with every step's status, attempts, duration, error and artifact links."""
    run = await find_run(session, project, job_id)
    result = run.outcome
    links = [f"/api/runs/{run.job_id}/artifacts/{name}" for name in artifact_names(result)]
    return RunDetail(**run_summary(run), result=result, artifacts=links)


@router.get(
    "/{job_id}/artifacts/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "application/zip": {}}}},
)
async def get_artifact(
    job_id: str, name: str, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> FileResponse:
    """A screenshot (PNG) or trace (zip) of the run."""
    run = await find_run(session, project, job_id)
    result = run.outcome
    if name not in artifact_names(result):
        raise not_found("artifact", name)
    path = Path(services.settings.artifacts_dir) / run.job_id / name
    if not path.is_file():
        raise not_found("artifact", name)
    return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix, "application/octet-stream"))
