"""Limits per project: set by the admin, enforced on every route that would exceed them; a
project's own token can change none of them, and it can replace itself."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import update
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.exceptions import ApplicationError

from activities.schedules import ScheduleActivities
from core.config import Settings
from store.db import create_engine
from store.models import Schedule
from tests.api.jobs import create_test
from tests.api.queue_helpers import wait_test
from tests.support.api_fixtures import ADMIN_TOKEN, ProjectAccess, new_project
from workflows.messages import FireRequest

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def queue_status(api: httpx.AsyncClient, project: ProjectAccess) -> dict:
    response = await api.get("/api/execution/queue/status", headers=project.headers)
    return response.json()["queue"]


async def test_waiting_runs_past_the_limit_get_429_and_nothing_of_the_request_is_queued(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api, limits={"max_waiting": 3})
    headers = project.headers
    assert (await api.post("/api/execution/queue/pause", headers=headers)).is_success
    first, second = [await create_test(api, project, wait_test(pages_url, 10)) for _ in "ab"]
    for _ in range(2):
        ok = await api.post(f"/api/execution/test/{first}/run", headers=headers)
        assert ok.status_code == 200, ok.text
    suite = await api.post(
        "/api/suites", json={"name": "two", "test_ids": [first, second]}, headers=headers
    )
    refused = await api.post(f"/api/execution/suite/{suite.json()['id']}/run", headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.headers["Retry-After"].isdigit()
    assert refused.json()["code"] == "queue_full"
    assert "limit of 3" in refused.json()["detail"]
    assert (await queue_status(api, project))["waiting"] == 2, "the suite is all or nothing"

    third = await api.post(f"/api/execution/test/{second}/run-live", headers=headers)
    assert third.status_code == 200, third.text
    for route in (f"/api/execution/test/{first}/run", f"/api/execution/test/{first}/run-live"):
        full = await api.post(route, headers=headers)
        assert full.status_code == 429 and full.json()["code"] == "queue_full", full.text
    assert (await queue_status(api, project))["waiting"] == 3

    raised = await api.patch(
        f"/api/admin/projects/{project.id}", json={"limits": {"max_waiting": 4}}, headers=ADMIN
    )
    assert raised.json()["limits"]["max_waiting"] == 4
    again = await api.post(f"/api/execution/test/{first}/run", headers=headers)
    assert again.status_code == 200 and again.json()["position"] == 4


async def test_a_project_lowers_its_own_settings_but_only_the_admin_raises_the_ceiling(
    api: httpx.AsyncClient, project: ProjectAccess, api_settings: Settings
) -> None:
    me = (await api.get("/api/projects/me", headers=project.headers)).json()
    assert me["limits"]["max_parallel"] == api_settings.limit_max_parallel
    for own, field in (
        ({"max_parallel": 1000}, "max_parallel"),
        ({"keep_completed": api_settings.limit_max_keep + 1}, "keep_completed"),
    ):
        refused = await api.patch("/api/projects/me", json=own, headers=project.headers)
        assert refused.status_code == 422 and refused.json()["detail"].startswith(field)
    lowered = await api.patch("/api/projects/me", json={"max_parallel": 1}, headers=project.headers)
    assert lowered.json()["max_parallel"] == 1

    change: dict = {"limits": {"max_parallel": 50}}
    as_tenant = await api.patch(
        f"/api/admin/projects/{project.id}", json=change, headers=project.headers
    )
    assert as_tenant.status_code == 401
    assert (
        await api.patch(f"/api/admin/projects/{project.id}", json=change, headers=ADMIN)
    ).is_success
    raised = await api.patch("/api/projects/me", json={"max_parallel": 50}, headers=project.headers)
    assert raised.status_code == 200 and raised.json()["max_parallel"] == 50

    lowered_ceiling = {"limits": {"max_parallel": 5}}
    after = await api.patch(
        f"/api/admin/projects/{project.id}", json=lowered_ceiling, headers=ADMIN
    )
    assert after.json()["max_parallel"] == 5, "a lower ceiling lowers the project's value"
    restored = await api.patch(
        f"/api/admin/projects/{project.id}", json={"limits": {"max_parallel": None}}, headers=ADMIN
    )
    assert restored.json()["limits"]["max_parallel"] == api_settings.limit_max_parallel
    missing = await api.patch("/api/admin/projects/999999999", json=change, headers=ADMIN)
    assert missing.status_code == 404


async def test_steps_and_timeout_past_the_limits_are_refused(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api, limits={"max_steps": 2, "max_timeout_s": 60})
    three_steps = {**wait_test(pages_url, 10), "steps": [{"action": "wait", "value": 1}] * 3}
    refused = await api.post("/api/tests", json=three_steps, headers=project.headers)
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "steps: at most 2 steps for this project; timeout_s: at most 60 for this project"
    ), "every problem at once"
    slow = {**wait_test(pages_url, 10), "timeout_s": 61}
    refused = await api.post("/api/tests", json=slow, headers=project.headers)
    assert refused.json()["detail"] == "timeout_s: at most 60 for this project"
    test_id = await create_test(api, project, {**wait_test(pages_url, 10), "timeout_s": 60})
    replaced = await api.put(f"/api/tests/{test_id}", json=three_steps, headers=project.headers)
    assert replaced.status_code == 422
    assert (await api.get("/api/tests", headers=project.headers)).json()[0]["definition"][
        "timeout_s"
    ] == 60, "the stored test is unchanged"


async def test_schedules_past_the_count_or_firing_too_often_are_refused(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api, limits={"max_schedules": 1, "min_schedule_interval_s": 3600})
    test_id = await create_test(api, project, wait_test(pages_url, 10))
    for timing in (
        {"interval_s": 60},
        {"cron": "*/5 * * * *"},
        {"cron": "*/30 * * * *", "paused": True},
    ):
        body = {"name": "often", "test_id": test_id, **timing}
        refused = await api.post("/api/schedules", json=body, headers=project.headers)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"] == "schedules of this project fire at most every 3600 s"
    hourly = {"name": "hourly", "test_id": test_id, "interval_s": 3600, "paused": True}
    assert (await api.post("/api/schedules", json=hourly, headers=project.headers)).is_success
    second = await api.post("/api/schedules", json=hourly, headers=project.headers)
    assert second.status_code == 409 and second.json()["code"] == "limit_reached"
    listed = await api.get("/api/schedules", headers=project.headers)
    assert len(listed.json()) == 1, "refused schedules left nothing behind"


async def test_uploads_count_against_the_project_s_total_and_a_streamed_body_is_cut_off(
    api: httpx.AsyncClient, api_settings: Settings
) -> None:
    project = await new_project(api, limits={"max_upload_bytes": 3000})

    async def upload(name: str, size: int) -> httpx.Response:
        files = {"file": (name, b"x" * size, "text/plain")}
        return await api.post("/api/uploads", files=files, headers=project.headers)

    assert (await upload("a.txt", 2000)).status_code == 201
    over = await upload("b.txt", 1500)
    assert over.status_code == 413
    assert over.json()["detail"] == (
        "the project's uploads are limited to 3000 bytes in all (2000 used)"
    )
    assert (await upload("a.txt", 2900)).status_code == 201, "a replaced file does not count"
    listed = (await api.get("/api/uploads", headers=project.headers)).json()
    assert listed == [{"name": "a.txt", "size": 2900}]

    limit = api_settings.max_upload_bytes

    async def chunks():  # no Content-Length: the body is counted as it streams in
        boundary = b"--b\r\nContent-Disposition: form-data; name=file; filename=c.txt\r\n\r\n"
        yield boundary
        for _ in range(limit // 65536 + 4):
            yield b"x" * 65536

    streamed = await api.post(
        "/api/uploads",
        content=chunks(),
        headers={**project.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413, streamed.text


async def test_parallel_uploads_never_pass_the_project_s_quota_together_and_one_is_deleted(
    live: httpx.AsyncClient,
) -> None:
    """Five 1.5 MB uploads at once into a 5 MB quota: at most three are stored."""
    project = await new_project(live, limits={"max_upload_bytes": 5_000_000})
    size = 1_500_000

    async def upload(name: str) -> httpx.Response:
        files = {"file": (name, b"x" * size, "application/octet-stream")}
        return await live.post("/api/uploads", files=files, headers=project.headers)

    answers = await asyncio.gather(*(upload(f"part-{n}.bin") for n in range(5)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 201, 201, 413, 413], codes
    listed = (await live.get("/api/uploads", headers=project.headers)).json()
    assert len(listed) == 3 and sum(item["size"] for item in listed) == 3 * size

    deleted = await live.delete(f"/api/uploads/{listed[0]['name']}", headers=project.headers)
    assert deleted.status_code == 204
    assert (await upload("after-delete.bin")).status_code == 201, "its room is free again"
    missing = await live.delete("/api/uploads/no-such.bin", headers=project.headers)
    assert missing.status_code == 404 and missing.json()["code"] == "upload_not_found"
    escape = await live.delete("/api/uploads/..%2F..%2Fsecret.key", headers=project.headers)
    assert escape.status_code == 404
    other = await new_project(live)
    theirs = await live.delete(f"/api/uploads/{listed[1]['name']}", headers=other.headers)
    assert theirs.status_code == 404, "another project's upload is not there for it"


async def test_a_rotated_token_works_at_once_and_the_old_one_never_again(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, wait_test(pages_url, 10))
    rotated = await api.post("/api/projects/me/token", headers=project.headers)
    assert rotated.status_code == 200
    new = {"Authorization": f"Bearer {rotated.json()['token']}"}
    assert rotated.json()["token"] != project.token
    assert (await api.get("/api/projects/me", headers=project.headers)).status_code == 401
    old_run = await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    assert old_run.status_code == 401
    assert (await api.get("/api/projects/me", headers=new)).json()["id"] == project.id
    assert (await api.get(f"/api/tests/{test_id}", headers=new)).status_code == 200


async def test_a_deleted_test_s_schedule_goes_with_it_and_ids_are_never_handed_out_again(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    a, b = await new_project(api), await new_project(api)
    test_a = await create_test(api, a, wait_test(pages_url, 10))
    schedule = {"name": "hourly", "test_id": test_a, "interval_s": 3600, "paused": True}
    schedule_id = (await api.post("/api/schedules", json=schedule, headers=a.headers)).json()["id"]
    deleted = await api.delete(f"/api/tests/{test_a}", headers=a.headers)
    assert deleted.status_code == 204
    assert deleted.headers["X-Deleted-Schedules"] == schedule_id
    assert (await api.get(f"/api/schedules/{schedule_id}", headers=a.headers)).status_code == 404
    gone = await api.post(f"/api/schedules/{schedule_id}/trigger", headers=a.headers)
    assert gone.status_code == 404

    test_b = await create_test(api, b, wait_test(pages_url, 10))
    assert test_b > test_a, "the deleted test's ID is not handed out again"


async def test_a_schedule_fire_runs_nothing_of_another_project(
    api: httpx.AsyncClient, api_settings: Settings, client, pages_url: str
) -> None:
    """Even with a schedule row pointing at another project's test (an ID reused by some
    other path), the fire looks only within the schedule's project."""
    a, b = await new_project(api), await new_project(api)
    test_a = await create_test(api, a, wait_test(pages_url, 10))
    schedule = {"name": "hourly", "test_id": test_a, "interval_s": 3600, "paused": True}
    schedule_id = (await api.post("/api/schedules", json=schedule, headers=a.headers)).json()["id"]
    test_b = await create_test(api, b, wait_test(pages_url, 10))
    async with AsyncSession(engine := create_engine(api_settings.database_url)) as session:
        await session.exec(  # type: ignore[call-overload]
            update(Schedule).where(Schedule.id == schedule_id).values(test_id=test_b)
        )
        await session.commit()
    await engine.dispose()
    refusal = await fire_once(api_settings, client, schedule_id)
    assert f"test {test_b} is gone" in refusal, "the fire looked only within project A"
    assert (await api.get("/api/runs", headers=b.headers)).json() == []
    assert (await api.get("/api/runs", headers=a.headers)).json() == []


async def test_a_schedule_fire_past_the_waiting_limit_queues_nothing(
    api: httpx.AsyncClient, api_settings: Settings, client, pages_url: str
) -> None:
    project = await new_project(api, limits={"max_waiting": 1})
    assert (await api.post("/api/execution/queue/pause", headers=project.headers)).is_success
    test_id = await create_test(api, project, wait_test(pages_url, 10))
    waiting = await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    assert waiting.status_code == 200
    schedule = {"name": "hourly", "test_id": test_id, "interval_s": 3600, "paused": True}
    made = await api.post("/api/schedules", json=schedule, headers=project.headers)
    refusal = await fire_once(api_settings, client, made.json()["id"])
    assert "would exceed its limit of 1" in refusal
    assert (await queue_status(api, project))["waiting"] == 1


async def fire_once(settings: Settings, client, schedule_id: str) -> str:
    """Run a fire's queueing activity as the worker would; the error it raises."""
    engine = create_engine(settings.database_url)
    silent: Any = _NoEvents()
    fires = ScheduleActivities(engine, client, silent, settings.default_limits)
    request = FireRequest(schedule_id=schedule_id, fire_id=f"fire-{schedule_id}")
    try:
        await fires.queue_scheduled_runs(request)
    except ApplicationError as error:
        return error.message
    finally:
        await engine.dispose()
    raise AssertionError("the fire queued runs")


class _NoEvents:
    """Publishes nothing (the fire must not get as far as announcing a run)."""

    def publish(self, _event: object) -> None:
        raise AssertionError("a run was announced")
