"""Projects and tokens: admin creates, the token is shown once and stored hashed."""

from __future__ import annotations

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import create_engine
from tests.support.api_fixtures import ADMIN_TOKEN, ProjectAccess


async def test_project_token_is_shown_once_and_stored_only_as_a_hash(
    api: httpx.AsyncClient, project: ProjectAccess, api_settings
) -> None:
    me = await api.get("/api/projects/me", headers=project.headers)
    assert me.status_code == 200
    assert me.json() == {
        "id": project.id,
        "name": project.name,
        "max_parallel": 2,
        "paused": False,
        "keep_completed": 100,
        "keep_failed": 200,
        "limits": api_settings.default_limits.model_dump(),
    }
    assert "token" not in me.json()
    engine: AsyncEngine = create_engine(api_settings.database_url)
    async with engine.connect() as connection:
        stored = (
            await connection.execute(
                text("select token_hash from project where id = :i"), {"i": project.id}
            )
        ).scalar_one()
    await engine.dispose()
    assert project.token not in stored and len(stored) == 64


async def test_creating_a_project_needs_the_admin_token(api: httpx.AsyncClient, project) -> None:
    body = {"name": "nope"}
    assert (await api.post("/api/projects", json=body)).status_code == 401
    wrong = await api.post("/api/projects", json=body, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "unauthorized"
    as_project = await api.post("/api/projects", json=body, headers=project.headers)
    assert as_project.status_code == 401


async def test_duplicate_project_name_is_a_conflict(api: httpx.AsyncClient, project) -> None:
    response = await api.post(
        "/api/projects",
        json={"name": project.name},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"a project named {project.name!r} exists",
        "code": "project_exists",
    }


async def test_missing_or_wrong_token_is_401_everywhere(api: httpx.AsyncClient) -> None:
    for path in ("/api/tests", "/api/suites", "/api/runs", "/api/execution/queue/status"):
        assert (await api.get(path)).status_code == 401
        response = await api.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert response.status_code == 401
        assert response.json()["code"] == "unauthorized"


async def test_health_needs_no_token(api: httpx.AsyncClient) -> None:
    response = await api.get("/health")
    assert response.status_code == 200, response.text
    assert response.json()["temporal"] == "ok"
