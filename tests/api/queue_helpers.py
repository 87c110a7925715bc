"""Helpers for queue tests: queue many runs at once, read run times, watch positions."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from tests.api.jobs import job
from tests.support.api_fixtures import ProjectAccess


def wait_test(pages_url: str, wait_ms: int) -> dict[str, Any]:
    """A test that holds its session for `wait_ms`."""
    return {
        "name": f"hold {wait_ms} ms",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "wait", "value": wait_ms}],
    }


async def queue_at_once(
    api: httpx.AsyncClient, project: ProjectAccess, test_id: int, count: int, live: bool = False
) -> list[dict[str, Any]]:
    """`count` simultaneous run requests; their responses in request order."""
    route = "run-live" if live else "run"
    responses = await asyncio.gather(
        *(
            api.post(f"/api/execution/test/{test_id}/{route}", headers=project.headers)
            for _ in range(count)
        )
    )
    for response in responses:
        assert response.status_code == 200, response.text
    return [response.json() for response in responses]


async def positions(
    api: httpx.AsyncClient, project: ProjectAccess, job_ids: list[str]
) -> list[int | None]:
    """The current position of each job (None once it has started or ended)."""
    return [(await job(api, project, job_id))["position"] for job_id in job_ids]


async def stored_runs(api: httpx.AsyncClient, project: ProjectAccess) -> dict[str, dict[str, Any]]:
    """The project's run history by job ID."""
    response = await api.get("/api/runs", params={"limit": 500}, headers=project.headers)
    assert response.status_code == 200, response.text
    return {run["jobId"]: run for run in response.json()}


async def wait_until_finished(
    api: httpx.AsyncClient, project: ProjectAccess, job_ids: list[str], timeout: float = 120
) -> dict[str, dict[str, Any]]:
    """Poll the run history until every job has a final state."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        runs = await stored_runs(api, project)
        if all(runs[j]["finishedOn"] is not None for j in job_ids):
            return runs
        assert asyncio.get_running_loop().time() < deadline, "runs did not finish in time"
        await asyncio.sleep(0.3)


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def most_at_once(runs: list[dict[str, Any]]) -> int:
    """The largest number of these runs whose [started, finished] intervals overlap."""
    edges = []
    for run in runs:
        if run["startedAt"] is None:
            continue
        edges.append((moment(run["startedAt"]), 1))
        edges.append((moment(run["finishedOn"]), -1))
    current = peak = 0
    for _when, change in sorted(edges):
        current += change
        peak = max(peak, current)
    return peak
