"""A run's page (the failed step and its screenshot first, the steps, the session attempts,
the actions that fit its state), its live stream and artifacts, and a suite run's live page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ServicesDep, SessionDep, temporal_client
from api.errors import ApiError
from api.routes import execution, live, runs, suite_runs
from api.services import Services
from api.ui.pages import (
    CsrfField,
    UiSessionDep,
    back,
    checked,
    page,
    project_for,
    run_for,
)
from api.ui.sessions import UiSession
from core.run_state import FINAL_STATES, RETRYABLE_STATES, UNFINISHED_STATES, RunState
from dispatch.run_variables import variables_shown
from live.events import job_stream
from store.models import Project, Run

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/runs/{job_id}", response_class=HTMLResponse)
async def run_page(
    request: Request, job_id: str, ui: UiSessionDep, session: SessionDep, services: ServicesDep
) -> Response:
    run, project, position = await run_for(ui, session, job_id)
    view = await run_view(services, run, project, position)
    template = "run_body.html" if request.url.path.endswith("/body") else "run.html"
    return page(request, template, ui, note=request.query_params.get("note"), **view)


async def run_view(
    services: Services, run: Run, project: Project, position: int | None
) -> dict[str, Any]:
    """The run's steps (live while it runs), position, screenshots and trace, and the
    environment and variables it used (secrets masked)."""
    stored = result = run.outcome
    if result is None and run.state == RunState.ACTIVE:
        result = await execution.live_progress(services, run.job_id)
    names = runs.artifact_names(stored)
    failed_step = result.failed_step if result else None
    failure_shots = [n for n in failed_step.artifacts if n.endswith(".png")] if failed_step else []
    actions = [("cancel", "Cancel")] if run.state in UNFINISHED_STATES else []
    actions += [("retry", "Retry")] if run.state in RETRYABLE_STATES else []
    return {
        "run": run,
        "failed_step": failed_step,
        "failure_shots": failure_shots,
        "actions": actions,
        "project": project,
        "position": position,
        "result": result,
        "screenshots": [n for n in names if n.endswith(".png")],
        "traces": [n for n in names if n.endswith(".zip")],
        "final": run.state in FINAL_STATES,
        "environment": run.environment,
        "variables": variables_shown(run.run_input),
    }


@router.get("/runs/{job_id}/events")
async def run_events(
    job_id: str,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    last_event_header: live.LastEventHeader = None,
) -> Response:
    run, project, _ = await run_for(ui, session, job_id)
    await session.close()
    last_id = live.valid_event_id(last_event_header)
    snapshot = live.job_snapshot(services, project, run.job_id)
    return live.stream(live.sse(services, job_stream(run.job_id), last_id, snapshot, ends=True))


@router.get("/runs/{job_id}/artifacts/{name}")
async def run_artifact(
    job_id: str, name: str, ui: UiSessionDep, session: SessionDep, services: ServicesDep
) -> FileResponse:
    """A screenshot or trace, for the page and for the trace viewer (same origin, cookie)."""
    run, project, _ = await run_for(ui, session, job_id)
    return await runs.get_artifact(run.job_id, name, project, session, services)


@router.post("/runs/{job_id}/{action}")
async def run_action(
    job_id: str,
    action: str,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
) -> Response:
    """Cancel or retry the run, through the API's own routes."""
    checked(ui, csrf)
    run, project, _ = await run_for(ui, session, job_id)
    to = f"/ui/runs/{job_id}"
    try:
        if action == "cancel":
            client = await temporal_client(services)
            done = await execution.cancel_job(job_id, project, session, client, services)
            return back(to, done.message)
        if action == "retry":
            queued = await execution.retry_job(job_id, project, session, services)
            return back(f"/ui/runs/{queued.jobId}", queued.message)
    except ApiError as error:
        return back(to, error.detail)
    raise ApiError(404, "not_found", f"no run action {action}")


async def suite_run_project(ui: UiSession, session: AsyncSession, suite_run_id: str) -> Project:
    """The project of a suite run the session may see; 404 otherwise."""
    first = (
        await session.exec(select(Run).where(Run.suite_run_id == suite_run_id).limit(1))
    ).first()
    if first is None or not ui.may_see(first.project_id):
        raise ApiError(404, "not_found", f"suite run {suite_run_id} not found")
    return await project_for(ui, session, first.project_id)


@router.get("/suite-runs/{suite_run_id}", response_class=HTMLResponse)
async def suite_run_page(
    request: Request, suite_run_id: str, ui: UiSessionDep, session: SessionDep
) -> Response:
    """A suite run as one thing, live: its state, counts, progress, wall time and runs."""
    project = await suite_run_project(ui, session, suite_run_id)
    found = await suite_runs.get_suite_run(suite_run_id, project, session)
    template = "suite_run_body.html" if request.url.path.endswith("/body") else "suite_run.html"
    note = request.query_params.get("note")
    return page(request, template, ui, project=project, suite_run=found, note=note)


@router.post("/suite-runs/{suite_run_id}/retry")
async def retry_suite_run(
    suite_run_id: str,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
) -> Response:
    """Run again what did not pass in the suite run, through the API's own route."""
    checked(ui, csrf)
    to = f"/ui/suite-runs/{suite_run_id}"
    project = await suite_run_project(ui, session, suite_run_id)
    try:
        queued = await suite_runs.retry_suite_run(suite_run_id, project, session, services)
    except ApiError as error:
        return back(to, error.detail)
    return back(to, queued.message)


router.add_api_route("/runs/{job_id}/body", run_page, response_class=HTMLResponse)
router.add_api_route("/suite-runs/{suite_run_id}/body", suite_run_page, response_class=HTMLResponse)
