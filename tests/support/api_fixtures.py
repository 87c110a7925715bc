"""Fixtures of the API against real Temporal and workers, on SQLite and on a real PostgreSQL
server (a plugin of tests/conftest.py: the API, dispatcher and CLI tests share them)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from api.app import create_app
from core.chromium import LAUNCH_ARGS, chromium_executable
from core.config import Settings
from core.temporal import connect
from runner.host import WorkerHost
from store.db import migrate
from tests.conftest import POSTGRES_NAMESPACE, free_port
from tests.support.postgres import postgres_server

ADMIN_TOKEN = "admin-" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for this test session."""
    with postgres_server(free_port()) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
async def api_settings(
    request: pytest.FixtureRequest, settings: Settings, worker_host: WorkerHost
) -> AsyncIterator[Settings]:
    """Settings of the API under test; each database gets its own worker and namespace."""
    if request.param == "sqlite":
        yield settings.model_copy(update={"admin_token": ADMIN_TOKEN})
        return
    url = request.getfixturevalue("postgres_url")
    pg_settings = settings.model_copy(
        update={
            "database_url": url,
            "temporal_namespace": POSTGRES_NAMESPACE,
            "admin_token": ADMIN_TOKEN,
            # project IDs of the two databases overlap: files of their own
            "uploads_dir": settings.data_dir / "uploads-postgresql",
            "artifacts_dir": settings.data_dir / "artifacts-postgresql",
        }
    )
    migrate(url)
    host = WorkerHost(await connect(pg_settings), pg_settings)
    await host.start()
    yield pg_settings
    await host.stop()


@pytest.fixture(scope="session")
async def api(api_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app, with the app's start-up and shutdown run around it."""
    app = create_app(api_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture(scope="session")
async def live(settings: Settings, worker_host: WorkerHost) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the API served over real HTTP (SQLite), with the session's worker and Redis:
    for streams, WebSockets and the CLI's codec endpoint."""
    from tests.api.live_server import served

    live_settings = settings.model_copy(update={"admin_token": ADMIN_TOKEN})
    async with served(live_settings) as url, httpx.AsyncClient(base_url=url, timeout=90) as client:
        yield client


@dataclass
class ProjectAccess:
    """A project created for one test, and the headers that act as it."""

    id: int
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def new_project(
    api: httpx.AsyncClient, max_parallel: int = 2, limits: dict | None = None
) -> ProjectAccess:
    """A project made with the admin token (with `limits` overriding the defaults)."""
    body: dict = {"name": f"p-{uuid.uuid4().hex[:8]}", "max_parallel": max_parallel}
    if limits is not None:
        body["limits"] = limits
    response = await api.post(
        "/api/projects",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return ProjectAccess(id=body["id"], name=body["name"], token=body["token"])


@pytest.fixture
async def project(api: httpx.AsyncClient) -> ProjectAccess:
    """A fresh project."""
    return await new_project(api)


@pytest.fixture
async def every_second_project(api: httpx.AsyncClient) -> ProjectAccess:
    """A fresh project whose schedules the admin lets fire every second."""
    return await new_project(api, limits={"min_schedule_interval_s": 1})


@pytest.fixture
async def other_project(api: httpx.AsyncClient) -> ProjectAccess:
    """A second project, to prove isolation."""
    return await new_project(api)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """A Chromium for the dashboard's tests (one per module)."""
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        yield chromium
        await chromium.close()
