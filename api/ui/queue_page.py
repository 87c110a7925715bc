"""A project's queue page (waiting with positions, active with live progress, the newest
finished runs), its live stream, its pause and resume, and the runs page with its searches."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ServicesDep, SessionDep
from api.errors import ApiError
from api.routes import execution, live
from api.routes.runs import RunFilter
from api.schemas import CleanRequest
from api.services import Services
from api.ui.pages import (
    CsrfField,
    UiSessionDep,
    back,
    checked,
    page,
    project_for,
)
from core.run_result import RunProgress
from core.run_state import FINAL_STATES, RunState
from live.events import project_stream
from store.admission import occupying, paused_all
from store.models import Project, Run
from store.queue import awaits_handover, queued_count, queued_page

router = APIRouter(prefix="/ui", include_in_schema=False)


PAGE_SIZE = 50

RECENT = 20

PageNumber = Annotated[int, Query(alias="page", ge=0, le=100_000)]


async def queue_view(
    session: AsyncSession, services: Services, project: Project, page_number: int
) -> dict[str, Any]:
    """What the queue page shows: counts, a page of waiting runs with positions, the active
    runs with their live progress, and the newest finished runs."""
    assert project.id is not None
    offset = page_number * PAGE_SIZE
    waiting = await queued_page(session, project.id, offset, PAGE_SIZE)
    active = (
        await session.exec(
            # in a slot or starting in one; a successor still in line shows under Waiting
            select(Run).where(Run.project_id == project.id, occupying() & ~awaits_handover())
        )
    ).all()
    finished = (
        await session.exec(
            select(Run)
            .where(Run.project_id == project.id, col(Run.state).in_(FINAL_STATES))
            .order_by(col(Run.finished_at).desc(), col(Run.id).desc())
            .limit(RECENT)
        )
    ).all()
    counts = await execution.project_counts(services, session, project.id)
    return {
        "project": project,
        "counts": counts,
        "queued": await queued_count(session, project.id),
        "paused_all": await paused_all(session),
        "waiting": waiting,
        "active": [(run, await live_of(services, run)) for run in active],
        "finished": finished,
        "page_number": page_number,
        "page_size": PAGE_SIZE,
    }


async def live_of(services: Services, run: Run) -> RunProgress | None:
    """The workflow's own progress of an active run (cached for a second)."""
    if run.state != RunState.ACTIVE:
        return None
    return await execution.live_progress(services, run.job_id)


@router.get("/projects/{project_id}", response_class=HTMLResponse)
async def queue_page(
    request: Request,
    project_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    page_number: PageNumber = 0,
) -> Response:
    project = await project_for(ui, session, project_id)
    view = await queue_view(session, services, project, page_number)
    template = "queue_body.html" if request.url.path.endswith("/body") else "queue.html"
    return page(request, template, ui, note=request.query_params.get("note"), **view)


@router.get("/projects/{project_id}/runs", response_class=HTMLResponse)
async def runs_page(
    request: Request,
    project_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    page_number: PageNumber = 0,
    name: Annotated[str, Query(max_length=200)] = "",
    state: Annotated[RunState | Literal[""], Query()] = "",
) -> Response:
    """The project's runs, newest first, found by a part of their test's name and by state."""
    project = await project_for(ui, session, project_id)
    chosen = RunFilter(state=state or None, name=name.strip() or None)
    found = await session.exec(
        chosen.query(project_id)
        .order_by(col(Run.id).desc())
        .offset(page_number * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    )
    rows = list(found.all())

    def query(number: int) -> str:
        return urlencode({"name": name, "state": state, "page": number})

    return page(
        request,
        "runs.html",
        ui,
        project=project,
        runs=rows[:PAGE_SIZE],
        more=len(rows) > PAGE_SIZE,
        page_number=page_number,
        searched=name,
        state=state,
        states=[choice.value for choice in RunState],
        query=query,
    )


@router.get("/projects/{project_id}/events")
async def queue_events(
    project_id: int,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    last_event_header: live.LastEventHeader = None,
) -> Response:
    """The project's event stream, for its signed-in dashboards (resumes at Last-Event-ID)."""
    project = await project_for(ui, session, project_id)
    await session.close()  # a stream lasts minutes: give the connection back now
    last_id = live.valid_event_id(last_event_header)
    snapshot = live.project_snapshot(services, project)
    return live.stream(
        live.sse(services, project_stream(str(project_id)), last_id, snapshot, ends=False)
    )


@router.post("/projects/{project_id}/{action}")
async def queue_action(
    project_id: int,
    action: str,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
    state: Annotated[str, Form()] = "completed",
) -> Response:
    """Pause, resume or clean the project's queue, through the API's own routes."""
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}"
    try:
        if action == "pause":
            done = await execution.pause_queue(project, session, services)
        elif action == "resume":
            done = await execution.resume_queue(project, session, services)
        elif action == "clean":
            body = CleanRequest.model_validate({"state": state, "keep": 0})
            cleaned = await execution.clean_queue(body, project, services)
            return back(to, f"{cleaned.removed} {state} runs cleaned")
        else:
            raise ApiError(404, "not_found", f"no queue action {action}")
    except ApiError as error:
        return back(to, error.detail)
    return back(to, done.message)


router.add_api_route(
    "/projects/{project_id}/body",
    queue_page,
    response_class=HTMLResponse,
    description="The live part of the queue page, rendered again on each event.",
)
