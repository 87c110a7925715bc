"""Run history: filtered lists, one run in full, and its artifacts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from sqlmodel import col, select

from api.deps import ProjectDep, ServicesDep, SessionDep
from api.errors import not_found
from api.routes.execution import find_run
from api.schemas import RunDetail, RunSummary
from core.run_result import RunProgress
from core.run_state import RunState
from store.models import Run

router = APIRouter(prefix="/api/runs", tags=["runs"])
MEDIA_TYPES = {".png": "image/png", ".zip": "application/zip"}


def _summary(run: Run) -> dict:
    return {
        "jobId": run.job_id,
        "testId": run.test_id,
        "suiteId": run.suite_id,
        "state": run.state,
        "priority": run.priority,
        "progress": run.progress,
        "flaky": run.flaky,
        "error": run.error,
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
    since: datetime | None = Query(None, description="created at or after"),
    until: datetime | None = Query(None, description="created before"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[RunSummary]:
    """The project's runs, newest first, filtered by state, test, suite and time."""
    query = select(Run).where(Run.project_id == project.id)
    if state is not None:
        query = query.where(Run.state == state)
    if test_id is not None:
        query = query.where(Run.test_id == test_id)
    if suite_id is not None:
        query = query.where(Run.suite_id == suite_id)
    if since is not None:
        query = query.where(col(Run.created_at) >= since)
    if until is not None:
        query = query.where(col(Run.created_at) < until)
    rows = await session.exec(query.order_by(col(Run.id).desc()).offset(offset).limit(limit))
    return [RunSummary(**_summary(run)) for run in rows.all()]


@router.get("/{job_id}", response_model=RunDetail)
async def get_run(job_id: str, project: ProjectDep, session: SessionDep) -> RunDetail:
    """One run with every step's status, attempts, duration, error and artifact links."""
    run = await find_run(session, project, job_id)
    result = run.outcome
    links = [f"/api/runs/{run.job_id}/artifacts/{name}" for name in artifact_names(result)]
    return RunDetail(**_summary(run), result=result, artifacts=links)


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
