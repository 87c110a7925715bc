"""A project's token sees only its own project: everything of another project is 404."""

from __future__ import annotations

import httpx

from api.app import create_app
from tests.api.jobs import create_test, wait_for_stored_state
from tests.support.api_fixtures import ProjectAccess
from tests.support.definitions import shop_test
from tests.support.receiver import Receiver


async def test_project_b_gets_404_for_every_route_of_project_a(
    api: httpx.AsyncClient,
    project: ProjectAccess,
    other_project: ProjectAccess,
    pages_url: str,
    api_settings,
    receiver: Receiver,
) -> None:
    a = project.headers
    test_id = await create_test(api, project, shop_test(pages_url))
    suite_id = (
        await api.post("/api/suites", json={"name": "s", "test_ids": [test_id]}, headers=a)
    ).json()["id"]
    flow = {
        "name": "f",
        "login_url": pages_url + "login.html",
        "steps": [{"action": "click", "selector": "#submit"}],
        "credentials": {"username": "user", "password": "pass-word"},
    }
    flow_id = (await api.post("/api/auth-flows", json=flow, headers=a)).json()["id"]
    schedule = {"name": "hourly", "test_id": test_id, "interval_s": 3600}
    schedule_id = (await api.post("/api/schedules", json=schedule, headers=a)).json()["id"]
    suite_run = await api.post(f"/api/execution/suite/{suite_id}/run", headers=a)
    suite_run_id = suite_run.json()["suiteRunId"]
    job_id = (await api.post(f"/api/execution/test/{test_id}/run", headers=a)).json()["jobId"]
    stored = await wait_for_stored_state(api, project, job_id, "completed")
    artifact = stored["artifacts"][0].rsplit("/", 1)[1]
    upload = {"file": (artifact, b"A's file", "text/plain")}  # an upload of the same name
    assert (await api.post("/api/uploads", files=upload, headers=a)).status_code == 201
    environment = {"variables": {"TOTAL": "42"}, "secrets": {"PIN": "a's pin"}}
    made = await api.put(f"/api/projects/me/environments/{artifact}", json=environment, headers=a)
    assert made.status_code == 200, "an environment of the same name as the artifact"
    hook = (await api.post("/api/webhooks", json={"url": receiver.url}, headers=a)).json()
    tested = await api.post(f"/api/webhooks/{hook['id']}/test", headers=a)
    delivery_id = tested.json()["deliveryId"]

    routes = [
        ("GET", "/api/tests/{test_id}"),
        ("PUT", "/api/tests/{test_id}"),
        ("DELETE", "/api/tests/{test_id}"),
        ("GET", "/api/suites/{suite_id}"),
        ("PUT", "/api/suites/{suite_id}"),
        ("DELETE", "/api/suites/{suite_id}"),
        ("GET", "/api/auth-flows/{flow_id}"),
        ("DELETE", "/api/auth-flows/{flow_id}"),
        ("POST", "/api/execution/test/{test_id}/run"),
        ("POST", "/api/execution/test/{test_id}/run-live"),
        ("POST", "/api/execution/suite/{suite_id}/run"),
        ("GET", "/api/execution/job/{job_id}"),
        ("GET", "/api/execution/job/{job_id}/events"),
        ("POST", "/api/execution/job/{job_id}/cancel"),
        ("POST", "/api/execution/job/{job_id}/retry"),
        ("GET", "/api/runs/{job_id}"),
        ("GET", "/api/runs/{job_id}/artifacts/{name}"),
        ("GET", "/api/runs/{job_id}/junit.xml"),
        ("GET", "/api/suite-runs/{suite_run_id}"),
        ("GET", "/api/suite-runs/{suite_run_id}/junit.xml"),
        ("POST", "/api/suite-runs/{suite_run_id}/retry"),
        ("GET", "/api/schedules/{schedule_id}"),
        ("PUT", "/api/schedules/{schedule_id}"),
        ("DELETE", "/api/schedules/{schedule_id}"),
        ("POST", "/api/schedules/{schedule_id}/pause"),
        ("POST", "/api/schedules/{schedule_id}/resume"),
        ("POST", "/api/schedules/{schedule_id}/trigger"),
        ("DELETE", "/api/uploads/{name}"),
        ("GET", "/api/projects/me/environments/{name}"),
        ("DELETE", "/api/projects/me/environments/{name}"),
        ("GET", "/api/webhooks/{webhook_id}"),
        ("PATCH", "/api/webhooks/{webhook_id}"),
        ("DELETE", "/api/webhooks/{webhook_id}"),
        ("GET", "/api/webhooks/{webhook_id}/deliveries"),
        ("POST", "/api/webhooks/{webhook_id}/test"),
        ("POST", "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"),
    ]
    own_by_name = {("PUT", "/api/projects/me/environments/{name}")}
    """Makes or replaces the caller's own environment of that name: checked below."""
    with_ids = {
        (method.upper(), path)
        for path, operations in create_app(api_settings).openapi()["paths"].items()
        if "{" in path and not path.startswith("/api/admin/")
        for method in operations
    }
    assert with_ids == set(routes) | own_by_name, "every route that names a resource is checked"
    as_admin = await api.patch(
        f"/api/admin/projects/{project.id}", json={"max_parallel": 1}, headers=other_project.headers
    )
    assert as_admin.status_code == 401, "admin routes take no project token"

    values = {
        "test_id": test_id,
        "suite_id": suite_id,
        "flow_id": flow_id,
        "job_id": job_id,
        "name": artifact,
        "schedule_id": schedule_id,
        "suite_run_id": suite_run_id,
        "webhook_id": hook["id"],
        "delivery_id": delivery_id,
    }
    for method, template in routes:
        path = template.format(**values)
        body = shop_test(pages_url) if method == "PUT" else None
        if template.startswith("/api/suites/"):
            body = {"name": "taken", "test_ids": [test_id]} if method == "PUT" else None
        if template.startswith("/api/schedules/") and method == "PUT":
            body = {"name": "taken", "test_id": test_id, "interval_s": 3600}
        if method == "PATCH":
            body = {"name": "taken"}
        response = await api.request(method, path, json=body, headers=other_project.headers)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["code"].endswith("_not_found")
        assert str(values.get("job_id")) not in response.text or "not found" in response.text

    b_made = await api.put(
        f"/api/projects/me/environments/{artifact}", json={}, headers=other_project.headers
    )
    assert b_made.status_code == 200 and b_made.json()["variables"] == {}, "B's own, empty"
    a_kept = (await api.get(f"/api/projects/me/environments/{artifact}", headers=a)).json()
    assert (a_kept["variables"], a_kept["secrets"]) == ({"TOTAL": "42"}, ["PIN"])

    assert (await api.get(f"/api/tests/{test_id}", headers=a)).status_code == 200, "A keeps it all"
    assert [u["name"] for u in (await api.get("/api/uploads", headers=a)).json()] == [artifact]
    assert (await api.get(f"/api/runs/{job_id}/artifacts/{artifact}", headers=a)).status_code == 200
    assert (await api.get("/api/runs", headers=other_project.headers)).json() == []
    assert (await api.get("/api/tests", headers=other_project.headers)).json() == []
    assert (await api.get("/api/schedules", headers=other_project.headers)).json() == []
    assert (await api.get(f"/api/schedules/{schedule_id}", headers=a)).status_code == 200
    assert (await api.get(f"/api/webhooks/{hook['id']}", headers=a)).json()["name"] is None
