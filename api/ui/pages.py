"""The dashboard's pages and actions. Reads go straight to the store; every action calls the
API route that does the same thing (its checks and messages included), after the session's
CSRF token has been checked. Pages re-render their live part on each event of the project's
(or the run's) stream: positions and progress always come from the server, never guessed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Cookie, Depends, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ServicesDep, SessionDep, hash_token, same_secret, temporal_client
from api.errors import ApiError
from api.routes import admin, execution, live, runs, suite_runs
from api.routes.runs import RunFilter
from api.schemas import CleanRequest
from api.services import Services
from api.ui import sessions
from api.ui.sessions import UiSession
from core.run_result import RunProgress, first_line
from core.run_state import FINAL_STATES, RETRYABLE_STATES, UNFINISHED_STATES, RunState
from dispatch.run_variables import variables_shown
from live.events import job_stream, project_stream
from store import dashboard_sessions
from store.admission import occupying, paused_all
from store.models import Project, Run, as_utc
from store.queue import awaits_handover, position_column, queued_count, queued_page
from store.workers import WorkerRegistry

HERE = Path(__file__).parent
PAGE_SIZE = 50
RECENT = 20
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)
CookieDep = Annotated[str | None, Cookie(alias=sessions.COOKIE)]
CsrfField = Annotated[str | None, Form()]
"""The session's CSRF token, in every action's form."""
PageNumber = Annotated[int, Query(alias="page", ge=0, le=100_000)]


class SignInNeeded(Exception):
    """No valid session: the browser goes to the sign-in page."""


def error_page(request: Request, status: int, detail: str) -> Response | None:
    """The dashboard's errors in words, on a page (the API's stay JSON)."""
    if not request.url.path.startswith("/ui/"):
        return None
    return templates.TemplateResponse(
        request, "error.html", {"ui": None, "status": status, "detail": detail}, status_code=status
    )


async def signed_in(
    services: ServicesDep, session: SessionDep, cookie: CookieDep = None
) -> UiSession:
    """The caller's live session, if its token is still the project's (or the admin's)."""
    found = await sessions.read(session, cookie)
    if found is None:
        raise SignInNeeded
    if found.is_admin:
        admin = services.settings.admin_token
        if not admin or sessions.token_tag(hash_token(admin)) != found.token_tag:
            raise SignInNeeded
        return found
    assert found.project_id is not None
    project = await session.get(Project, found.project_id)
    if project is None or sessions.token_tag(project.token_hash) != found.token_tag:
        raise SignInNeeded
    return found


UiSessionDep = Annotated[UiSession, Depends(signed_in)]


def checked(ui: UiSession, csrf: str | None) -> None:
    """Every action's form carries the session's CSRF token."""
    if not ui.csrf_ok(csrf):
        raise ApiError(403, "csrf_token_missing", "the form was not sent by this dashboard")


async def project_for(ui: UiSession, session: AsyncSession, project_id: int) -> Project:
    project = await session.get(Project, project_id)
    if project is None or not ui.may_see(project_id):
        raise ApiError(404, "not_found", f"project {project_id} not found")
    return project


async def run_for(
    ui: UiSession, session: AsyncSession, job_id: str
) -> tuple[Run, Project, int | None]:
    """The run if the session may see it, its project, and its position while queued."""
    found = (await session.exec(select(Run, position_column()).where(Run.job_id == job_id))).first()
    if found is None or not ui.may_see(found[0].project_id):
        raise ApiError(404, "not_found", f"job {job_id} not found")
    run, position = found
    return run, await project_for(ui, session, run.project_id), position


def page(request: Request, name: str, ui: UiSession | None, **context: Any) -> HTMLResponse:
    csrf = ui.csrf if ui is not None else ""
    return templates.TemplateResponse(request, name, {"ui": ui, "csrf": csrf, **context})


def back(to: str, note: str | None = None) -> RedirectResponse:
    """After an action, back to its page (with what happened, in words)."""
    target = to if note is None else f"{to}?note={quote(note)}"
    return RedirectResponse(target, status_code=303)


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: SessionDep, cookie: CookieDep = None) -> Response:
    found = await sessions.read(session, cookie)
    if found is None:
        return page(request, "sign_in.html", None)
    if found.is_admin:
        return RedirectResponse("/ui/admin", status_code=303)
    return RedirectResponse(f"/ui/projects/{found.project_id}", status_code=303)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    token: Annotated[str, Form(max_length=500)],
    services: ServicesDep,
    session: SessionDep,
) -> Response:
    """Exchange a project or admin token for a session cookie (the token is not kept). Only
    the dashboard's own sign-in page may post here (`api/ui/protection.py`)."""
    admin = services.settings.admin_token
    token = token.strip()
    agent = request.headers.get("user-agent", "")
    if admin and same_secret(token, admin):
        cookie = await sessions.issue(session, None, hash_token(admin), agent)
    else:
        found = await session.exec(select(Project).where(Project.token_hash == hash_token(token)))
        project = found.first()
        if project is None:
            error = "That token belongs to no project (nor to the admin)."
            refused = page(request, "sign_in.html", None, error=error)
            refused.status_code = 401
            return refused
        cookie = await sessions.issue(session, project.id, project.token_hash, agent)
    response = RedirectResponse("/ui/", status_code=303)
    response.set_cookie(
        sessions.COOKIE,
        cookie,
        max_age=sessions.LIFETIME_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui",
    )
    return response


@router.post("/sign-out")
async def sign_out(ui: UiSessionDep, session: SessionDep, csrf: CsrfField = None) -> Response:
    """End the session on the server (its cookie is worth nothing from now on)."""
    checked(ui, csrf)
    await dashboard_sessions.end(session, ui.id_hash)
    response = RedirectResponse("/ui/", status_code=303)
    response.delete_cookie(sessions.COOKIE, path="/ui")
    return response


@router.get("/admin", response_class=HTMLResponse)
async def admin_view(
    request: Request, ui: UiSessionDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Every project's queue, the global pause, and the workers' capacity."""
    if not ui.is_admin:
        raise ApiError(
            403,
            "admin_only",
            "This page shows every project, so it is for the service's admin: sign out and sign"
            " in with the admin token. A project token sees its own queue, tests and schedules.",
        )
    projects = (await session.exec(select(Project).order_by(col(Project.id)))).all()
    counts = {
        p.id: await execution.project_counts(services, session, p.id) for p in projects if p.id
    }
    census = await WorkerRegistry(services.engine).census()
    paused = await paused_all(session)
    return page(
        request,
        "admin.html",
        ui,
        projects=projects,
        counts=counts,
        census=census,
        paused_all=paused,
        note=request.query_params.get("note"),
    )


@router.post("/admin/{action}")
async def admin_action(
    action: str, ui: UiSessionDep, services: ServicesDep, csrf: CsrfField = None
) -> Response:
    checked(ui, csrf)
    routes = {"pause": admin.pause_all, "resume": admin.resume_all}
    if not ui.is_admin or action not in routes:
        raise ApiError(404, "not_found", f"no admin action {action}")
    done = await routes[action](None, services)
    return back("/ui/admin", done.message)


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


def duration(run: Run) -> str:
    return "" if run.duration_s is None else f"{run.duration_s:.1f} s"


def run_link(run: Run) -> Markup:
    """A run as lists show it: its test's name (as queued), its suite's, and its job ID."""
    name = run.test_name or (f"test #{run.test_id}" if run.test_id else "a test")
    suite = Markup(' <span class="suite">in {}</span>').format(run.suite_name or "")
    suite = suite if run.suite_name else Markup("")
    return Markup('<a href="/ui/runs/{}">{}{} <small class="job">{}</small></a>').format(
        run.job_id, name, suite, run.job_id
    )


def moment(when: datetime) -> str:
    """A stored moment as the dashboard shows it, in UTC."""
    return as_utc(when).strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.globals.update(
    duration=duration, run_link=run_link, first_line=first_line, moment=moment
)


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


router.add_api_route(
    "/projects/{project_id}/body",
    queue_page,
    response_class=HTMLResponse,
    description="The live part of the queue page, rendered again on each event.",
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


@router.get("/runs/{job_id}", response_class=HTMLResponse)
async def run_page(
    request: Request, job_id: str, ui: UiSessionDep, session: SessionDep, services: ServicesDep
) -> Response:
    run, project, position = await run_for(ui, session, job_id)
    view = await run_view(services, run, project, position)
    template = "run_body.html" if request.url.path.endswith("/body") else "run.html"
    return page(request, template, ui, note=request.query_params.get("note"), **view)


router.add_api_route("/runs/{job_id}/body", run_page, response_class=HTMLResponse)


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


router.add_api_route("/suite-runs/{suite_run_id}/body", suite_run_page, response_class=HTMLResponse)


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
