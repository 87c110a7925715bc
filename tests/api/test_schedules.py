"""Schedules on Temporal Schedules: the API and the `temporal schedule` CLI act on the same
schedules; fires queue runs at scheduled priority; overlap, pause and resume hold."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from core.config import Settings
from core.run_state import FINAL_STATES
from devstack.temporal_server import temporal_binary
from tests.api.jobs import create_test, wait_for_stored_state
from tests.api.queue_helpers import moment, most_at_once, stored_runs, wait_test
from tests.support.api_fixtures import ProjectAccess
from tests.support.runs import next_second_after


async def create_schedule(
    api: httpx.AsyncClient, project: ProjectAccess, **body: Any
) -> dict[str, Any]:
    response = await api.post(
        "/api/schedules", json={"name": "nightly", **body}, headers=project.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def describe(api: httpx.AsyncClient, project: ProjectAccess, schedule_id: str) -> dict:
    response = await api.get(f"/api/schedules/{schedule_id}", headers=project.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_runs(
    api: httpx.AsyncClient, project: ProjectAccess, schedule_id: str, count: int, timeout=60.0
) -> list[dict[str, Any]]:
    """Poll until the schedule has `count` runs, all ended."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        runs = (await describe(api, project, schedule_id))["recent_runs"]
        ended = [r for r in runs if r["state"] in FINAL_STATES]
        if len(runs) >= count and len(ended) == len(runs):
            return runs
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"schedule {schedule_id} has runs {runs}")
        await asyncio.sleep(0.3)


async def until_runs_ended(
    api: httpx.AsyncClient, project: ProjectAccess, schedule_id: str, count: int, timeout=60.0
) -> None:
    """Poll until at least `count` of the schedule's runs have ended (more may be running)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        runs = (await describe(api, project, schedule_id))["recent_runs"]
        if sum(1 for r in runs if r["state"] in FINAL_STATES) >= count:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"schedule {schedule_id} has runs {runs}")
        await asyncio.sleep(0.3)


async def temporal(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    command = [temporal_binary(), *args, "--address", settings.temporal_address]
    command += ["--namespace", settings.temporal_namespace]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)


async def test_cron_schedule_fires_on_trigger_from_the_api_and_from_the_cli(
    api: httpx.AsyncClient, api_settings: Settings, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, wait_test(pages_url, 10))
    created = await create_schedule(
        api, project, test_id=test_id, cron="0 3 * * *", time_zone="Europe/Berlin"
    )
    berlin = [
        datetime.fromisoformat(t).astimezone(ZoneInfo("Europe/Berlin"))
        for t in created["next_run_times"]
    ]
    assert len(berlin) == 5 and all((t.hour, t.minute) == (3, 0) for t in berlin)
    assert created["overlap"] == "skip" and not created["paused"]

    triggered = await api.post(f"/api/schedules/{created['id']}/trigger", headers=project.headers)
    assert triggered.status_code == 200, triggered.text
    [first] = await wait_for_runs(api, project, created["id"], 1)
    stored = await wait_for_stored_state(api, project, first["jobId"], "completed")
    assert stored["priority"] == "scheduled" and stored["testId"] == test_id

    shown = await temporal(api_settings, "schedule", "describe", "--schedule-id", created["id"])
    assert shown.returncode == 0, shown.stderr
    assert created["id"] in shown.stdout and "ScheduledFire" in shown.stdout
    listed = await temporal(api_settings, "schedule", "list")
    assert listed.returncode == 0 and created["id"] in listed.stdout, listed.stderr
    await next_second_after(moment(first["createdAt"]))
    cli = await temporal(api_settings, "schedule", "trigger", "--schedule-id", created["id"])
    assert cli.returncode == 0, cli.stderr
    runs = await wait_for_runs(api, project, created["id"], 2)
    assert len({r["jobId"] for r in runs}) == 2


async def test_interval_schedule_skips_fires_while_its_run_runs(
    api: httpx.AsyncClient, every_second_project: ProjectAccess, pages_url: str
) -> None:
    project = every_second_project
    test_id = await create_test(api, project, wait_test(pages_url, 2500))
    created = await create_schedule(api, project, test_id=test_id, interval_s=1)
    await until_runs_ended(api, project, created["id"], 2)
    paused = await api.post(f"/api/schedules/{created['id']}/pause", headers=project.headers)
    assert paused.status_code == 200 and paused.json()["paused"]
    await wait_for_runs(api, project, created["id"], 2)

    stored = [r for r in (await stored_runs(api, project)).values() if r["startedAt"]]
    assert len(stored) >= 2
    assert most_at_once(stored) == 1, "a fire never overlaps the previous one"
    starts = sorted(moment(r["startedAt"]) for r in stored)
    assert all((b - a).total_seconds() > 2.5 for a, b in zip(starts, starts[1:], strict=False))


async def test_paused_schedule_fires_only_after_resume(
    api: httpx.AsyncClient, every_second_project: ProjectAccess, pages_url: str
) -> None:
    project = every_second_project
    test_id = await create_test(api, project, wait_test(pages_url, 10))
    created = await create_schedule(api, project, test_id=test_id, interval_s=1, paused=True)
    assert created["paused"] and created["note"]
    await asyncio.sleep(2.5)  # two fire times pass while it is paused: nothing may run
    assert (await describe(api, project, created["id"]))["recent_runs"] == []

    resumed = await api.post(
        f"/api/schedules/{created['id']}/resume",
        json={"note": "back on"},
        headers=project.headers,
    )
    assert resumed.status_code == 200 and not resumed.json()["paused"]
    assert resumed.json()["note"] == "back on"
    await wait_for_runs(api, project, created["id"], 1)
    paused = await api.post(
        f"/api/schedules/{created['id']}/pause",
        json={"note": "release freeze"},
        headers=project.headers,
    )
    assert paused.json()["paused"] and paused.json()["note"] == "release freeze"


async def test_suite_schedule_queues_every_test_of_the_suite(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    tests = [await create_test(api, project, wait_test(pages_url, ms)) for ms in (10, 20)]
    suite = await api.post(
        "/api/suites", json={"name": "both", "test_ids": tests}, headers=project.headers
    )
    # a cron that cannot fire during the test: only the trigger queues the suite's runs
    created = await create_schedule(api, project, suite_id=suite.json()["id"], cron="0 0 1 1 *")
    await api.post(f"/api/schedules/{created['id']}/trigger", headers=project.headers)
    runs = await wait_for_runs(api, project, created["id"], 2)
    assert sorted(r["testId"] for r in runs) == sorted(tests)
    assert {r["state"] for r in runs} == {"completed"}
    listed = await api.get("/api/schedules", headers=project.headers)
    assert [s["id"] for s in listed.json()] == [created["id"]]


async def test_bad_schedules_get_clear_errors_and_delete_removes_it_everywhere(
    api: httpx.AsyncClient,
    api_settings: Settings,
    project: ProjectAccess,
    other_project: ProjectAccess,
    pages_url: str,
) -> None:
    test_id = await create_test(api, project, wait_test(pages_url, 10))
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"test_id": test_id, "cron": "61 * * * *"}, 422, "invalid_schedule"),
        ({"test_id": test_id, "cron": "0 3 * * *", "time_zone": "Mars/Olympus"}, 422, None),
        ({"test_id": test_id, "suite_id": 1, "cron": "0 3 * * *"}, 422, None),
        ({"test_id": test_id}, 422, None),
        ({"test_id": test_id, "cron": "0 3 * * *", "interval_s": 60}, 422, None),
        ({"test_id": test_id, "interval_s": 0}, 422, None),
        ({"test_id": test_id, "interval_s": 60, "overlap": "sometimes"}, 422, None),
    ]
    for body, code, error in cases:
        response = await api.post(
            "/api/schedules", json={"name": "x", **body}, headers=project.headers
        )
        assert response.status_code == code, (body, response.text)
        assert response.json()["detail"], body
        if error:
            assert response.json()["code"] == error
    foreign = await api.post(
        "/api/schedules",
        json={"name": "x", "test_id": test_id, "interval_s": 60},
        headers=other_project.headers,
    )
    assert foreign.status_code == 404
    assert (await api.get("/api/schedules", headers=project.headers)).json() == []

    created = await create_schedule(api, project, test_id=test_id, interval_s=3600)
    deleted = await api.delete(f"/api/schedules/{created['id']}", headers=project.headers)
    assert deleted.status_code == 204
    gone = await api.get(f"/api/schedules/{created['id']}", headers=project.headers)
    assert gone.status_code == 404 and gone.json()["code"] == "schedule_not_found"
    shown = await temporal(api_settings, "schedule", "describe", "--schedule-id", created["id"])
    assert shown.returncode != 0


async def test_a_schedule_is_edited_whole_and_a_bad_edit_changes_nothing(
    api: httpx.AsyncClient,
    api_settings: Settings,
    every_second_project: ProjectAccess,
    other_project: ProjectAccess,
    pages_url: str,
) -> None:
    project = every_second_project
    test_id = await create_test(api, project, wait_test(pages_url, 10))
    created = await create_schedule(api, project, test_id=test_id, interval_s=3600, paused=True)
    path = f"/api/schedules/{created['id']}"
    body = {"name": "at three in Tokyo", "test_id": test_id, "cron": "0 3 * * *"}
    edited = await api.put(
        path, json={**body, "time_zone": "Asia/Tokyo", "paused": True}, headers=project.headers
    )
    assert edited.status_code == 200, edited.text
    seen = await describe(api, project, created["id"])
    assert (seen["name"], seen["cron"], seen["interval_s"]) == (
        "at three in Tokyo",
        "0 3 * * *",
        None,
    )
    assert seen["paused"] is True and seen["time_zone"] == "Asia/Tokyo"
    tokyo = [moment(t).astimezone(ZoneInfo("Asia/Tokyo")) for t in seen["next_run_times"]]
    assert tokyo and all((t.hour, t.minute) == (3, 0) for t in tokyo)
    shown = await temporal(api_settings, "schedule", "describe", "--schedule-id", created["id"])
    assert "0 3 * * *" in shown.stdout or "Asia/Tokyo" in shown.stdout, shown.stdout

    bad_edits = [
        ({**body, "cron": "61 * * * *"}, project, 422),
        ({**body, "time_zone": "Mars/Olympus"}, project, 422),
        ({**body, "environment": "nowhere"}, project, 422),
        ({**body, "test_id": 10**9}, project, 404),
        (body, other_project, 404),
    ]
    for bad, who, code in bad_edits:
        answer = await api.put(path, json=bad, headers=who.headers)
        assert answer.status_code == code, (bad, answer.text)
    after = await describe(api, project, created["id"])
    assert {k: after[k] for k in ("name", "cron", "time_zone", "paused", "next_run_times")} == {
        k: seen[k] for k in ("name", "cron", "time_zone", "paused", "next_run_times")
    }, "a refused edit changes neither the row nor the Temporal schedule"
    await api.delete(path, headers=project.headers)
