"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.routes import health
from api.temporal_link import TemporalLink
from core.config import Settings, get_settings

DEMO_SITE = Path(__file__).resolve().parent.parent / "examples" / "site"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; clients are created at start-up, never at import time."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.temporal = TemporalLink(settings)
        yield

    app = FastAPI(title="Test execution service", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.include_router(health.router)
    app.mount("/demo", StaticFiles(directory=DEMO_SITE, html=True), name="demo")
    return app
