"""The admin's page: every project's queue, the global pause and the workers' capacity."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from api.deps import ServicesDep, SessionDep
from api.errors import ApiError
from api.routes import admin, execution
from api.ui.pages import (
    CsrfField,
    UiSessionDep,
    back,
    checked,
    page,
)
from store.admission import paused_all
from store.models import Project
from store.workers import WorkerRegistry

router = APIRouter(prefix="/ui", include_in_schema=False)


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
