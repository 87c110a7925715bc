"""Helpers for API tests that queue runs and watch them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api_fixtures import ProjectAccess
from tests.support.runs import poll


async def create_test(api: httpx.AsyncClient, project: ProjectAccess, definition: dict) -> int:
    response = await api.post("/api/tests", json=definition, headers=project.headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def job(api: httpx.AsyncClient, project: ProjectAccess, job_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/execution/job/{job_id}", headers=project.headers)
    assert response.status_code == 200, response.text
    return response.json()["job"]


async def wait_for_job(
    api: httpx.AsyncClient,
    project: ProjectAccess,
    job_id: str,
    states: tuple[str, ...],
    timeout: float = 60,
) -> dict[str, Any]:
    """Poll the job until its state is one of `states`."""
    return await poll(
        lambda: job(api, project, job_id),
        lambda current: current["state"] in states,
        lambda current: f"job {job_id} stayed {current['state']}",
        timeout,
        interval=0.2,
    )


async def wait_for_stored_state(
    api: httpx.AsyncClient, project: ProjectAccess, job_id: str, state: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll the run history (the database) until the run is stored in `state`."""

    async def stored() -> dict[str, Any]:
        response = await api.get(f"/api/runs/{job_id}", headers=project.headers)
        assert response.status_code == 200, response.text
        return response.json()

    return await poll(
        stored,
        lambda run: run["state"] == state,
        lambda run: f"run {job_id} stored as {run['state']}",
        timeout,
        interval=0.2,
    )


async def queue(client: httpx.AsyncClient, project: ProjectAccess, test_id: int) -> str:
    response = await client.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    assert response.status_code == 200, response.text
    return response.json()["jobId"]
