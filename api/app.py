"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.telemetry import TelemetryConfig

from api import ui
from api.errors import ErrorBody, install_error_handlers
from api.fast_run_route import FastRunRoute
from api.idempotency import IdempotencyMiddleware
from api.limits import BodySizeLimit
from api.routes import ROUTERS
from api.services import Services
from core.config import Settings, get_settings
from core.hardening import prepare_service_process
from core.logs import configure_logging, hide_query_tokens
from core.memory import MemoryReturner, freeze_start_up_objects
from core.parent_death import die_with_parent
from store.db import migrate

NO_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
}
"""FastAPI's own OpenTelemetry bridge is off: the service exports Prometheus metrics and JSON
logs, and the bridge looks for a configured provider on every request (about 10 % of an empty
route's cost)."""


def create_service_app() -> FastAPI:
    """The app as the service runs it, one per process: logging configured (JSON lines by
    default), start-up objects frozen out of the collector, memory given back after bursts.
    It ends with the process that started it (uvicorn's master, with several processes)."""
    die_with_parent()
    configure_logging()
    settings = get_settings()
    prepare_service_process(settings, admin_token_used=True)
    hide_query_tokens(logging.getLogger("uvicorn.access"))
    return create_app(settings, own_process=True)


def create_app(
    settings: Settings | None = None, migrate_on_start: bool = True, own_process: bool = False
) -> FastAPI:
    """Build the app; clients are created at start-up, never at import time. `own_process`:
    the app is its process's only one, so it may tune process-wide things (the collector)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await asyncio.to_thread(migrate, settings.database_url)
        app.state.services = Services.build(settings)
        app.state.services.start()
        memory = MemoryReturner()
        if own_process:
            freeze_start_up_objects()
            memory.start()
        try:
            yield
        finally:
            await memory.stop()
            await app.state.services.close()

    app = FastAPI(
        title="Test execution service",
        version="0.1.0",
        lifespan=lifespan,
        telemetry=NO_TELEMETRY,
        responses={
            401: {"model": ErrorBody, "description": "Missing or invalid token"},
            422: {"model": ErrorBody, "description": "Invalid request"},
        },
    )
    install_error_handlers(app, ui.error_page)
    ui.install(app, settings.public_origin)
    app.add_middleware(IdempotencyMiddleware)  # inside the body limit: it reads whole bodies
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(
        CORSMiddleware,  # the Web UI calls the codec endpoint from the browser
        allow_origins=[o.strip() for o in settings.codec_cors_origins.split(",") if o.strip()],
        allow_credentials=True,
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
    )
    for router in ROUTERS:
        app.include_router(router)
    app.router.routes.insert(0, FastRunRoute())  # before the FastAPI routes it stands in for
    return app
