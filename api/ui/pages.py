"""What every dashboard page shares (templates, the session, the CSRF check, rendering and
redirects), and signing in and out. The pages themselves: `queue_page`, `run_page`,
`admin_page`, `library` (tests, suites, schedules), `webhooks`.

Reads go straight to the store; every action calls the API route that does the same thing (its
checks and messages included), after the session's CSRF token has been checked. Pages re-render
their live part on each event of the project's (or the run's) stream: positions and progress
always come from the server, never guessed."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Cookie, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ServicesDep, SessionDep, hash_token, same_secret
from api.errors import ApiError
from api.ui import sessions
from api.ui.sessions import UiSession
from core.run_result import first_line
from store import dashboard_sessions
from store.models import Project, Run, as_utc
from store.queue import position_column

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)
CookieDep = Annotated[str | None, Cookie(alias=sessions.COOKIE)]
CsrfField = Annotated[str | None, Form()]
"""The session's CSRF token, in every action's form."""


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
