"""Execution routes end to end: queue, watch, artifacts, cancel, retry, pause, suites."""

from __future__ import annotations

import asyncio
import io
import zipfile

import httpx

from tests.api.jobs import create_test, job, wait_for_job, wait_for_stored_state
from tests.support.api_fixtures import ProjectAccess
from tests.support.definitions import shop_test
from tests.support.runs import poll

HOLD = {"action": "wait", "value": 30000}


async def test_run_is_queued_watched_and_stored_with_its_screenshot(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    queued = await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    assert queued.status_code == 200, queued.text
    body = queued.json()
    assert body["success"] is True and body["jobId"].startswith("run-")
    assert body["position"] == 1
    assert body["message"] == "Test queued successfully (Position 1 in queue)"

    done = await wait_for_job(api, project, body["jobId"], ("completed", "failed"))
    assert done["state"] == "completed", done["result"]["error"]
    assert done["testId"] == test_id and done["progress"] == 100 and done["attempts"] == 1

    stored = await wait_for_stored_state(api, project, body["jobId"], "completed")
    assert stored["finishedOn"] and stored["startedAt"]
    assert [s["status"] for s in stored["result"]["steps"]] == ["passed"] * 3
    (link,) = stored["artifacts"]
    picture = await api.get(link, headers=project.headers)
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/png" and picture.content[:4] == b"\x89PNG"

    history = await api.get(f"/api/runs?test_id={test_id}&state=completed", headers=project.headers)
    assert [r["jobId"] for r in history.json()] == [body["jobId"]]
    assert (await api.get("/api/runs?state=failed", headers=project.headers)).json() == []


async def test_failed_run_is_stored_with_error_and_trace_and_can_be_retried(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    definition = shop_test(
        pages_url,
        {"action": "click", "selector": "#nope"},
        step_timeout_ms=300,
        retry={"max_attempts": 1},
    )
    test_id = await create_test(api, project, definition)
    job_id = (await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)).json()[
        "jobId"
    ]
    stored = await wait_for_stored_state(api, project, job_id, "failed")
    assert "no element matches '#nope'" in stored["error"]
    assert any(link.endswith("trace-attempt-1.zip") for link in stored["artifacts"])

    retried = await api.post(f"/api/execution/job/{job_id}/retry", headers=project.headers)
    assert retried.status_code == 200, retried.text
    assert retried.json()["jobId"] != job_id
    await wait_for_stored_state(api, project, retried.json()["jobId"], "failed")

    again = await api.post(
        f"/api/execution/job/{retried.json()['jobId']}/cancel", headers=project.headers
    )
    assert again.status_code == 409 and again.json()["code"] == "job_finished"


async def test_cancel_a_running_job(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url, HOLD))
    job_id = (await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)).json()[
        "jobId"
    ]
    await poll(
        lambda: job(api, project, job_id),
        lambda current: (
            bool(current["result"]) and current["result"]["steps"][0]["status"] == "running"
        ),
        lambda current: f"the held step never showed as running: {current}",
        60,
    )
    cancelled = await api.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    assert cancelled.status_code == 200
    stored = await wait_for_stored_state(api, project, job_id, "cancelled", timeout=10)
    assert stored["result"]["steps"][0]["status"] == "cancelled", "the step it interrupted"
    again = await api.post(f"/api/execution/job/{job_id}/retry", headers=project.headers)
    assert again.status_code == 200, "a cancelled run can be run again"
    second = again.json()["jobId"]
    assert (
        await api.post(f"/api/execution/job/{second}/cancel", headers=project.headers)
    ).status_code == 200
    await wait_for_stored_state(api, project, second, "cancelled", timeout=10)


async def test_pause_holds_new_runs_and_resume_starts_them(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    assert (
        await api.post("/api/execution/queue/pause", headers=project.headers)
    ).status_code == 200
    job_id = (await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)).json()[
        "jobId"
    ]
    await asyncio.sleep(2)  # a window in which nothing may happen: the queue is paused
    held = await job(api, project, job_id)
    assert held["state"] == "waiting" and held["position"] == 1
    status = (await api.get("/api/execution/queue/status", headers=project.headers)).json()["queue"]
    assert status["isPaused"] is True and status["paused"] == 1 and status["waiting"] == 1

    assert (
        await api.post("/api/execution/queue/resume", headers=project.headers)
    ).status_code == 200
    done = await wait_for_job(api, project, job_id, ("completed", "failed"))
    assert done["state"] == "completed"
    status = (await api.get("/api/execution/queue/status", headers=project.headers)).json()["queue"]
    assert status["isPaused"] is False and status["completed"] == 1


async def test_suite_run_queues_every_test_with_consecutive_positions(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    ids = [await create_test(api, project, shop_test(pages_url)) for _ in range(3)]
    suite = (
        await api.post(
            "/api/suites", json={"name": "all", "test_ids": ids}, headers=project.headers
        )
    ).json()
    await api.post("/api/execution/queue/pause", headers=project.headers)
    queued = await api.post(f"/api/execution/suite/{suite['id']}/run", headers=project.headers)
    assert queued.status_code == 200, queued.text
    jobs = queued.json()["jobs"]
    assert [j["testId"] for j in jobs] == ids
    assert [j["position"] for j in jobs] == [1, 2, 3]
    await api.post("/api/execution/queue/resume", headers=project.headers)
    for queued_job in jobs:
        done = await wait_for_job(api, project, queued_job["jobId"], ("completed", "failed"))
        assert done["state"] == "completed"


async def test_run_live_goes_ahead_of_regular_runs(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    await api.post("/api/execution/queue/pause", headers=project.headers)
    regular = [
        (await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)).json()
        for _ in range(2)
    ]
    live = (
        await api.post(f"/api/execution/test/{test_id}/run-live", headers=project.headers)
    ).json()
    assert [r["position"] for r in regular] == [1, 2]
    assert live["position"] == 1
    assert (await job(api, project, regular[0]["jobId"]))["position"] == 2
    await api.post("/api/execution/queue/resume", headers=project.headers)
    for queued in [*regular, live]:
        await wait_for_job(api, project, queued["jobId"], ("completed",))


async def test_a_failed_run_s_trace_shows_the_page_from_its_first_retry_on(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    definition = shop_test(
        pages_url,
        {"action": "click", "selector": "#buy"},
        {"action": "click", "selector": "#nope"},
        step_timeout_ms=300,
        retry={"max_attempts": 2, "initial_interval_s": 0.1},
    )  # the default trace mode, on-failure
    test_id = await create_test(api, project, definition)
    queued = await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    stored = await wait_for_stored_state(api, project, queued.json()["jobId"], "failed")
    traces = {link.rsplit("/", 1)[1]: link for link in stored["artifacts"] if link.endswith(".zip")}
    assert set(traces) == {"trace-attempt-1.zip", "trace-attempt-1-before-retry.zip"}

    async def trace_events(name: str) -> bytes:
        archive = (await api.get(traces[name], headers=project.headers)).content
        with zipfile.ZipFile(io.BytesIO(archive)) as trace:
            return trace.read("trace.trace")

    retried = await trace_events("trace-attempt-1.zip")
    assert b'"frame-snapshot"' in retried and b"Test shop" in retried, "the page, from the retry"
    before = await trace_events("trace-attempt-1-before-retry.zip")
    assert b'"frame-snapshot"' not in before and b"#buy" in before, "the steps before, lean"
