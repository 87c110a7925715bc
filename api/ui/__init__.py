"""The dashboard under /ui/: server-rendered pages for people, signed in with a project token
(that project) or the admin token (every project), kept live by the event streams."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.ui import admin_page, library, pages, queue_page, run_page, trace_viewer, webhooks
from api.ui.pages import HERE, SignInNeeded, error_page
from api.ui.protection import DashboardProtection
from api.ui.trace_viewer import trace_viewer_dir

__all__ = ["error_page", "install"]


def install(app: FastAPI, public_origin: str) -> None:
    """The pages, their script and style, the trace viewer, sign-in redirects, and the
    headers and origin check of every dashboard response."""
    app.include_router(pages.router)
    app.include_router(admin_page.router)
    app.include_router(queue_page.router)
    app.include_router(run_page.router)
    app.include_router(library.router)
    app.include_router(webhooks.router)
    app.include_router(trace_viewer.router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    app.mount("/ui/trace", StaticFiles(directory=trace_viewer_dir(), html=True), name="ui-trace")

    app.add_middleware(DashboardProtection, public_origin=public_origin)

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(_request: Request, _error: SignInNeeded) -> Response:
        return RedirectResponse("/ui/", status_code=303)
