"""Helpers for API tests that queue runs and watch them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.api.conftest import ProjectAccess


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
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        current = await job(api, project, job_id)
        if current["state"] in states:
            return current
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"job {job_id} stayed {current['state']}")
        await asyncio.sleep(0.2)


async def wait_for_stored_state(
    api: httpx.AsyncClient, project: ProjectAccess, job_id: str, state: str, timeout: float = 30
) -> dict[str, Any]:
    """Poll the run history (the database) until the run is stored in `state`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await api.get(f"/api/runs/{job_id}", headers=project.headers)
        assert response.status_code == 200, response.text
        if response.json()["state"] == state:
            return response.json()
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"run {job_id} stored as {response.json()['state']}")
        await asyncio.sleep(0.2)
