"""Idempotency-Key on the POSTs that create runs and tests: one creation per key and project,
every repeat answered alike, another body refused, and a request retried after its
connection dropped creating nothing more."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from core.config import Settings
from store.db import create_engine
from store.models import IdempotentRequest
from tests.api.jobs import create_test
from tests.support.api_fixtures import ProjectAccess, new_project
from tests.support.definitions import shop_test


def keyed(project: ProjectAccess, key: str) -> dict[str, str]:
    return {**project.headers, "Idempotency-Key": key}


async def paused(api: httpx.AsyncClient, pages_url: str) -> tuple[ProjectAccess, int]:
    project = await new_project(api)
    test_id = await create_test(api, project, shop_test(pages_url))
    await api.post("/api/execution/queue/pause", headers=project.headers)
    return project, test_id


async def job_ids(api: httpx.AsyncClient, project: ProjectAccess) -> list[str]:
    runs = (await api.get("/api/runs?limit=100", headers=project.headers)).json()
    return sorted(run["jobId"] for run in runs)


async def cancel_all(api: httpx.AsyncClient, project: ProjectAccess) -> None:
    for job_id in await job_ids(api, project):
        await api.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)


async def test_a_repeated_run_request_gets_the_first_answer_and_queues_nothing_more(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project, test_id = await paused(api, pages_url)
    path = f"/api/execution/test/{test_id}/run"
    first = await api.post(path, headers=keyed(project, "nightly-42"))
    again = await api.post(path, headers=keyed(project, "nightly-42"))
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await job_ids(api, project) == [first.json()["jobId"]]
    other = await api.post(path, headers=keyed(project, "nightly-43"))
    assert other.json()["jobId"] != first.json()["jobId"]
    await cancel_all(api, project)


async def test_twenty_simultaneous_requests_with_one_key_create_one_run(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project, test_id = await paused(api, pages_url)
    for path in (f"/api/execution/test/{test_id}/run", f"/api/execution/test/{test_id}/run-live"):
        key = f"burst-{uuid.uuid4().hex}"
        answers = await asyncio.gather(
            *(api.post(path, headers=keyed(project, key)) for _ in range(20))
        )
        assert {a.status_code for a in answers} == {200}
        assert len({a.json()["jobId"] for a in answers}) == 1
    assert len(await job_ids(api, project)) == 2
    await cancel_all(api, project)


async def test_the_same_key_with_another_body_is_refused_and_creates_nothing(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api)
    created = await api.post(
        "/api/tests", json=shop_test(pages_url), headers=keyed(project, "make-shop")
    )
    assert created.status_code == 201
    other = {**shop_test(pages_url), "name": "another test"}
    refused = await api.post("/api/tests", json=other, headers=keyed(project, "make-shop"))
    assert refused.status_code == 422
    assert refused.json()["code"] == "idempotency_key_reused"
    tests = (await api.get("/api/tests", headers=project.headers)).json()
    assert [t["id"] for t in tests] == [created.json()["id"]]


async def test_keys_are_scoped_per_project(api: httpx.AsyncClient, pages_url: str) -> None:
    first, first_test = await paused(api, pages_url)
    second, second_test = await paused(api, pages_url)
    one = await api.post(f"/api/execution/test/{first_test}/run", headers=keyed(first, "k"))
    two = await api.post(f"/api/execution/test/{second_test}/run", headers=keyed(second, "k"))
    assert one.json()["jobId"] != two.json()["jobId"]
    assert "idempotent-replayed" not in two.headers
    await cancel_all(api, first)
    await cancel_all(api, second)


async def test_suite_runs_and_retries_are_idempotent_too(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project, test_id = await paused(api, pages_url)
    other_test = await create_test(api, project, {**shop_test(pages_url), "name": "other"})
    suite = await api.post(
        "/api/suites",
        json={"name": "s", "test_ids": [test_id, other_test]},
        headers=project.headers,
    )
    assert suite.status_code == 201, suite.text
    path = f"/api/execution/suite/{suite.json()['id']}/run"
    first = await api.post(path, headers=keyed(project, "suite-1"))
    again = await api.post(path, headers=keyed(project, "suite-1"))
    assert again.json() == first.json() and len(first.json()["jobs"]) == 2
    cancelled = first.json()["jobs"][0]["jobId"]
    await api.post(f"/api/execution/job/{cancelled}/cancel", headers=project.headers)
    retry = f"/api/execution/job/{cancelled}/retry"
    retried = [(await api.post(retry, headers=keyed(project, "retry-1"))).json() for _ in "ab"]
    assert retried[0] == retried[1]
    assert len(await job_ids(api, project)) == 3
    await cancel_all(api, project)


async def test_a_key_older_than_a_day_is_forgotten(
    api: httpx.AsyncClient, api_settings: Settings, pages_url: str
) -> None:
    project, test_id = await paused(api, pages_url)
    path = f"/api/execution/test/{test_id}/run"
    first = await api.post(path, headers=keyed(project, "daily"))
    engine = create_engine(api_settings.database_url)
    async with engine.begin() as connection:
        await connection.execute(
            update(IdempotentRequest)
            .where(IdempotentRequest.project_id == project.id)  # type: ignore[arg-type]
            .values(created_at=IdempotentRequest.created_at - timedelta(hours=25))
        )
    await engine.dispose()
    later = await api.post(path, headers=keyed(project, "daily"))
    assert later.json()["jobId"] != first.json()["jobId"]
    assert "idempotent-replayed" not in later.headers
    await cancel_all(api, project)


async def test_a_key_that_is_too_long_is_refused_in_words(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project, test_id = await paused(api, pages_url)
    answer = await api.post(f"/api/execution/test/{test_id}/run", headers=keyed(project, "k" * 256))
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Idempotency-Key must have 1 to 255 characters"
    assert await job_ids(api, project) == []


def raw_post_and_drop(url: httpx.URL, path: str, headers: dict[str, str]) -> None:
    """Send a POST and close the connection without reading any answer."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {url.host}", "Content-Length: 0"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((url.host, url.port or 80)) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


async def test_a_request_retried_after_its_connection_dropped_creates_no_second_run(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project, test_id = await paused(live, pages_url)
    path = f"/api/execution/test/{test_id}/run"
    headers = keyed(project, "dropped-1")
    await asyncio.to_thread(raw_post_and_drop, live.base_url, path, headers)
    retried: Any = await live.post(path, headers=headers)
    assert retried.status_code == 200, retried.text
    assert await job_ids(live, project) == [retried.json()["jobId"]]
    await cancel_all(live, project)
