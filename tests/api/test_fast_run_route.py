"""The run routes' fast path answers exactly as the FastAPI routes do, and only plain requests.

A `Bearer` token takes the fast path (api/fast_run_route.py); the same request with the scheme
spelled `bearer` is one the fast path leaves to the FastAPI route, which accepts it too. Each
case is sent both ways and the answers compared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

import api.routes.execution as execution_routes
from tests.api.jobs import create_test
from tests.support.api_fixtures import ProjectAccess
from tests.support.definitions import shop_test

Send = Callable[[str, str], Awaitable[httpx.Response]]


@pytest.fixture
def fastapi_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The test ids the FastAPI run routes were called with."""
    calls: list[int] = []
    original = execution_routes._queue_test

    async def counted(test_id: int, *args: Any) -> Any:
        calls.append(test_id)
        return await original(test_id, *args)

    monkeypatch.setattr(execution_routes, "_queue_test", counted)
    return calls


def sender(api: httpx.AsyncClient, scheme: str) -> Send:
    async def send(path: str, token: str) -> httpx.Response:
        return await api.post(path, headers={"Authorization": f"{scheme} {token}"})

    return send


async def both_ways(path: str, token: str, api: httpx.AsyncClient) -> list[httpx.Response]:
    return [await sender(api, scheme)(path, token) for scheme in ("Bearer", "bearer")]


async def paused_project_test(api: httpx.AsyncClient, project: ProjectAccess, pages: str) -> int:
    await api.post("/api/execution/queue/pause", headers=project.headers)
    return await create_test(api, project, shop_test(pages))


async def test_a_queued_run_is_answered_alike_and_only_bearer_takes_the_fast_path(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, fastapi_calls: list[int]
) -> None:
    test_id = await paused_project_test(api, project, pages_url)
    answers = []
    for route in ("run", "run-live"):
        answers += await both_ways(f"/api/execution/test/{test_id}/{route}", project.token, api)
    assert fastapi_calls == [test_id, test_id], "bearer went to FastAPI, Bearer did not"
    assert [a.status_code for a in answers] == [200] * 4
    assert all(a.headers["content-type"] == "application/json" for a in answers)
    bodies = [a.json() for a in answers]
    assert len({b["jobId"] for b in bodies}) == 4
    assert [b["position"] for b in bodies[:2]] == [1, 2]  # regular runs, in order
    assert [b["position"] for b in bodies[2:]] == [1, 2]  # live runs go before them
    for body in bodies:
        assert body == {
            "success": True,
            "jobId": body["jobId"],
            "position": body["position"],
            "message": f"Test queued successfully (Position {body['position']} in queue)",
        }
    regular, live = bodies[0]["jobId"], bodies[2]["jobId"]
    for job_id, priority in ((regular, "regular"), (live, "live")):
        run = (await api.get(f"/api/runs/{job_id}", headers=project.headers)).json()
        assert (run["testId"], run["state"], run["priority"]) == (test_id, "waiting", priority)


async def test_refusals_are_the_same_either_way(
    api: httpx.AsyncClient,
    project: ProjectAccess,
    other_project: ProjectAccess,
    pages_url: str,
    fastapi_calls: list[int],
) -> None:
    test_id = await paused_project_test(api, project, pages_url)
    other_test = await paused_project_test(api, other_project, pages_url)
    cases = [
        (f"/api/execution/test/{test_id}/run", "not-a-token", 401),
        (f"/api/execution/test/{other_test}/run", project.token, 404),  # another project's
        ("/api/execution/test/999999999/run-live", project.token, 404),
    ]
    for path, token, status in cases:
        fast, routed = await both_ways(path, token, api)
        assert fast.status_code == routed.status_code == status, (path, fast.text)
        assert fast.json() == routed.json() and fast.json()["code"], path
    assert len(fastapi_calls) == len(cases)


async def test_a_run_of_a_test_whose_auth_flow_is_gone_is_refused_alike(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    flow = {
        "name": "f",
        "login_url": pages_url + "login.html",
        "steps": [{"action": "click", "selector": "#submit"}],
        "credentials": {"username": "user", "password": "pass-word"},
    }
    flow_id = (await api.post("/api/auth-flows", json=flow, headers=project.headers)).json()["id"]
    definition = shop_test(pages_url, auth_flow_id=flow_id)
    test_id = await create_test(api, project, definition)
    deleted = await api.delete(f"/api/auth-flows/{flow_id}", headers=project.headers)
    assert deleted.status_code == 204, deleted.text
    fast, routed = await both_ways(f"/api/execution/test/{test_id}/run", project.token, api)
    assert fast.status_code == routed.status_code == 409
    assert fast.json() == routed.json()
    assert fast.json()["code"] == "auth_flow_missing"


async def test_a_test_id_with_leading_zeros_is_the_same_test(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await paused_project_test(api, project, pages_url)
    for answer in await both_ways(f"/api/execution/test/{test_id:08d}/run", project.token, api):
        assert answer.status_code == 200, answer.text
        job = f"/api/execution/job/{answer.json()['jobId']}"
        assert (await api.get(job, headers=project.headers)).json()["job"]["testId"] == test_id


@pytest.mark.parametrize(
    ("authorization", "route", "status", "detail"),
    [
        (None, "1/run", 401, "a bearer token is required"),
        ("Basic dTpw", "1/run", 401, "a bearer token is required"),
        ("Bearer ", "1/run-live", 401, "a bearer token is required"),
        ("Bearer x", "one/run", 422, None),
        ("Bearer x", "-1/run", 401, "the token is not valid"),
    ],
)
async def test_requests_that_are_not_plain_go_to_the_fastapi_routes(
    api: httpx.AsyncClient,
    fastapi_calls: list[int],
    authorization: str | None,
    route: str,
    status: int,
    detail: str | None,
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = await api.post(f"/api/execution/test/{route}", headers=headers)
    assert answer.status_code == status, answer.text
    if detail is not None:
        assert answer.json()["detail"] == detail
    routed = [] if status == 422 else [int(route.split("/")[0])]  # 422: refused before the route
    assert fastapi_calls == routed
