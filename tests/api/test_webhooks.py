"""Webhooks end to end: signed events a receiver on loopback verifies with the README's code,
retries with backoff, 410, rules, chat messages, a test event, redelivery, and a receiver that
hangs without holding up runs. The receiver is allowed by EGRESS_ALLOW (tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from core.config import Settings
from runner.host import WorkerHost
from store.db import create_engine
from store.models import Webhook
from tests.api.jobs import create_test, queue, wait_for_job
from tests.api.queue_helpers import moment, stored_runs
from tests.conftest import free_port
from tests.support.api_fixtures import ProjectAccess, new_project
from tests.support.definitions import shop_test
from tests.support.readme import readme_function
from tests.support.receiver import HANG, Receiver
from tests.support.runs import next_second_after

verify_signature = readme_function("verify_signature")


def failing_test(pages_url: str, name: str = "checkout breaks") -> dict[str, Any]:
    broken = shop_test(pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300)
    broken.update(name=name, retry={"max_attempts": 1})
    return broken


async def new_webhook(
    api: httpx.AsyncClient, project: ProjectAccess, url: str, **fields: Any
) -> dict[str, Any]:
    made = await api.post("/api/webhooks", json={"url": url, **fields}, headers=project.headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def deliveries(
    api: httpx.AsyncClient, project: ProjectAccess, webhook_id: str
) -> list[dict[str, Any]]:
    answer = await api.get(f"/api/webhooks/{webhook_id}/deliveries", headers=project.headers)
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def path() -> str:
    return f"/hook/{uuid.uuid4().hex[:10]}"


async def test_a_failing_run_delivers_a_signed_run_finished_that_the_readme_code_accepts(
    api: httpx.AsyncClient, receiver: Receiver, pages_url: str
) -> None:
    project = await new_project(api)
    where = path()
    hook = await new_webhook(
        api, project, receiver.answer(where, 200), name="ci", rules={"only_failures": True}
    )
    secret = hook["secret"]
    assert secret and all(
        "secret" not in json.dumps(h) or h["secret"] is None
        for h in (await api.get("/api/webhooks", headers=project.headers)).json()
    ), "the secret is shown once"
    passing = await queue(api, project, await create_test(api, project, shop_test(pages_url)))
    await wait_for_job(api, project, passing, ("completed",), timeout=60)
    failing = await queue(api, project, await create_test(api, project, failing_test(pages_url)))
    await wait_for_job(api, project, failing, ("failed",), timeout=60)

    [got] = await asyncio.to_thread(receiver.wait_for, where, 1)
    assert verify_signature(secret, got.body, got.headers["X-Signature"])
    assert not verify_signature("whsec_other", got.body, got.headers["X-Signature"])
    assert not verify_signature(secret, got.body + b" ", got.headers["X-Signature"])
    stale = "t=1000000000," + got.headers["X-Signature"].split(",", 1)[1]
    assert not verify_signature(secret, got.body, stale), "a replay older than 5 minutes"
    event = json.loads(got.body)
    assert (event["type"], event["version"]) == ("run.finished", 1)
    run = event["data"]["run"]
    assert (run["jobId"], run["testName"], run["state"], run["passed"]) == (
        failing,
        "checkout breaks",
        "failed",
        False,
    )
    assert run["failedStep"]["number"] == 1 and "#nope" in run["failedStep"]["error"]
    assert run["url"].endswith(f"/ui/runs/{failing}")
    assert got.headers["X-Event-Type"] == "run.finished"
    assert got.headers["X-Delivery-Id"] == f"{event['id']}-{hook['id']}"
    await asyncio.sleep(1)
    assert len(receiver.at(where)) == 1, "only failures: the passing run sent nothing"
    log = await deliveries(api, project, hook["id"])
    assert [(d["attempt"], d["outcome"]) for d in reversed(log)] == [
        (0, "queued"),
        (1, "delivered"),
    ]
    assert log[0]["statusCode"] == 200 and log[0]["durationMs"] is not None


async def test_a_receiver_failing_three_times_gets_it_on_the_fourth_attempt_with_backoff(
    api: httpx.AsyncClient, receiver: Receiver, pages_url: str
) -> None:
    project = await new_project(api)
    where = path()
    hook = await new_webhook(api, project, receiver.answer(where, 500, 500, 500, 200))
    job_id = await queue(api, project, await create_test(api, project, failing_test(pages_url)))
    await wait_for_job(api, project, job_id, ("failed",), timeout=60)
    got = await asyncio.to_thread(receiver.wait_for, where, 4)
    assert len({json.loads(g.body)["id"] for g in got}) == 1, "the same event each time"
    assert len({g.headers["X-Delivery-Id"] for g in got}) == 1
    gaps = [later.at - earlier.at for earlier, later in zip(got, got[1:], strict=False)]
    # Temporal's backoff: 0.2 s, then twice as long each time (these are lower bounds only)
    assert all(gap >= 0.2 * 2**i * 0.9 for i, gap in enumerate(gaps)), gaps
    for _ in range(50):
        log = await deliveries(api, project, hook["id"])
        if log and log[0]["outcome"] == "delivered":
            break
        await asyncio.sleep(0.1)
    attempts = [(d["attempt"], d["outcome"], d["statusCode"]) for d in reversed(log)]
    assert attempts == [
        (0, "queued", None),
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "failed", 500),
        (4, "delivered", 200),
    ]
    await asyncio.sleep(1)
    assert len(receiver.at(where)) == 4, "delivered once"


async def test_410_disables_the_webhook_until_it_is_enabled_again(
    api: httpx.AsyncClient, receiver: Receiver, pages_url: str
) -> None:
    project = await new_project(api)
    where = path()
    hook = await new_webhook(api, project, receiver.answer(where, 410))
    test_id = await create_test(api, project, failing_test(pages_url))
    await wait_for_job(api, project, await queue(api, project, test_id), ("failed",), 60)
    await asyncio.to_thread(receiver.wait_for, where, 1)
    for _ in range(50):
        seen = (await api.get(f"/api/webhooks/{hook['id']}", headers=project.headers)).json()
        if not seen["enabled"]:
            break
        await asyncio.sleep(0.1)
    assert seen["enabled"] is False and "410" in seen["disabled_reason"]
    await wait_for_job(api, project, await queue(api, project, test_id), ("failed",), 60)
    tested = await api.post(f"/api/webhooks/{hook['id']}/test", headers=project.headers)
    assert tested.status_code == 409
    await asyncio.sleep(1)
    assert len(receiver.at(where)) == 1, "a disabled webhook hears nothing"

    receiver.answer(where, 200)
    enabled = await api.patch(
        f"/api/webhooks/{hook['id']}", json={"enabled": True}, headers=project.headers
    )
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None
    tested = await api.post(f"/api/webhooks/{hook['id']}/test", headers=project.headers)
    assert tested.status_code == 200 and tested.json()["started"] is True
    [_, test_event] = await asyncio.to_thread(receiver.wait_for, where, 2)
    assert json.loads(test_event.body)["type"] == "webhook.test"


async def test_a_hanging_receiver_does_not_hold_up_the_next_run(
    api: httpx.AsyncClient, receiver: Receiver, pages_url: str
) -> None:
    project = await new_project(api, max_parallel=1)
    where = path()
    await new_webhook(api, project, receiver.answer(where, HANG, 200))
    test_id = await create_test(api, project, shop_test(pages_url))
    first = await queue(api, project, test_id)
    await wait_for_job(api, project, first, ("completed",), timeout=60)
    [hanging] = await asyncio.to_thread(receiver.wait_for, where, 1)
    second = await queue(api, project, test_id)
    await wait_for_job(api, project, second, ("completed",), timeout=60)
    runs = await stored_runs(api, project)
    assert moment(runs[second]["finishedOn"]).timestamp() < hanging.at + receiver.hang_s, (
        "the next run ended while the first run's delivery still hung"
    )


async def test_a_slack_webhook_gets_a_chat_message_and_a_redelivery_keeps_the_event_id(
    api: httpx.AsyncClient, receiver: Receiver, pages_url: str
) -> None:
    project = await new_project(api)
    where = path()
    hook = await new_webhook(api, project, receiver.answer(where, 200), format="slack")
    job_id = await queue(api, project, await create_test(api, project, failing_test(pages_url)))
    await wait_for_job(api, project, job_id, ("failed",), timeout=60)
    [got] = await asyncio.to_thread(receiver.wait_for, where, 1)
    message = json.loads(got.body)
    assert set(message) == {"text", "blocks"}
    assert "*checkout breaks* failed" in message["text"]
    assert "Step 1 (click)" in message["text"] and f"/ui/runs/{job_id}|" in message["text"]

    [delivered, _queued] = await deliveries(api, project, hook["id"])
    again = await api.post(
        f"/api/webhooks/{hook['id']}/deliveries/{delivered['deliveryId']}/redeliver",
        headers=project.headers,
    )
    assert again.status_code == 200, again.text
    assert again.json()["eventId"] == delivered["eventId"]
    [_, resent] = await asyncio.to_thread(receiver.wait_for, where, 2)
    assert resent.body == got.body, "the same event, as it was"
    assert resent.headers["X-Delivery-Id"] != got.headers["X-Delivery-Id"]


async def test_a_suite_run_ends_in_one_suite_run_finished(
    api: httpx.AsyncClient, receiver: Receiver, pages_url: str
) -> None:
    project = await new_project(api)
    where = path()
    await new_webhook(api, project, receiver.answer(where, 200), events=["suite_run.finished"])
    tests = [
        await create_test(api, project, shop_test(pages_url)),
        await create_test(api, project, failing_test(pages_url)),
    ]
    suite = await api.post(
        "/api/suites", json={"name": "smoke", "test_ids": tests}, headers=project.headers
    )
    queued = await api.post(
        f"/api/execution/suite/{suite.json()['id']}/run", headers=project.headers
    )
    for job in queued.json()["jobs"]:
        await wait_for_job(api, project, job["jobId"], ("completed", "failed"), timeout=60)
    [got] = await asyncio.to_thread(receiver.wait_for, where, 1)
    data = json.loads(got.body)["data"]
    assert (data["suiteName"], data["passed"]) == ("smoke", False)
    assert data["counts"]["completed"] == 1 and data["counts"]["failed"] == 1
    assert [run["testName"] for run in data["failedRuns"]] == ["checkout breaks"]
    await asyncio.sleep(1)
    assert len(receiver.at(where)) == 1, "once, after both runs"


async def test_bad_webhooks_get_clear_errors_and_secrets_rotate(
    api: httpx.AsyncClient, receiver: Receiver, other_project: ProjectAccess
) -> None:
    project = await new_project(api, limits={"max_webhooks": 1})
    bad = [
        {"url": "ftp://example.com/hook"},
        {"url": "https://user:pw@example.com/hook"},
        {"url": "http://10.0.0.1/hook"},
        {"url": "http://[::1]:9/hook"},
        {"url": receiver.url, "events": ["run.started"]},
        {"url": receiver.url, "events": []},
        {"url": receiver.url, "format": "teams"},
        {"url": receiver.url, "rules": {"only": True}},
    ]
    for body in bad:
        answer = await api.post("/api/webhooks", json=body, headers=project.headers)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["detail"]
    hook = await new_webhook(api, project, receiver.url + path())
    full = await api.post("/api/webhooks", json={"url": receiver.url}, headers=project.headers)
    assert full.status_code == 409 and full.json()["code"] == "limit_reached"
    for method in ("get", "delete"):
        foreign = await getattr(api, method)(
            f"/api/webhooks/{hook['id']}", headers=other_project.headers
        )
        assert foreign.status_code == 404
    rotated = await api.patch(
        f"/api/webhooks/{hook['id']}", json={"rotate_secret": True}, headers=project.headers
    )
    assert rotated.json()["secret"] not in (None, hook["secret"])
    plain = await api.patch(
        f"/api/webhooks/{hook['id']}", json={"name": "renamed"}, headers=project.headers
    )
    assert plain.json()["secret"] is None and plain.json()["name"] == "renamed"
    deleted = await api.delete(f"/api/webhooks/{hook['id']}", headers=project.headers)
    assert deleted.status_code == 204
    assert (await api.get("/api/webhooks", headers=project.headers)).json() == []


async def fire(api: httpx.AsyncClient, project: ProjectAccess, schedule_id: str, count: int) -> str:
    """Trigger the schedule and wait for its `count`-th run to end; that run's job ID."""
    triggered = await api.post(f"/api/schedules/{schedule_id}/trigger", headers=project.headers)
    assert triggered.status_code == 200, triggered.text
    for _ in range(600):
        described = await api.get(f"/api/schedules/{schedule_id}", headers=project.headers)
        runs = described.json()["recent_runs"]
        if len(runs) >= count and runs[0]["state"] in ("completed", "failed"):
            await next_second_after(moment(runs[0]["createdAt"]))
            return str(runs[0]["jobId"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"schedule {schedule_id} has runs {runs}")


async def test_a_schedule_that_starts_failing_and_recovers_tells_each_turn_once(
    api: httpx.AsyncClient, receiver: Receiver, pages_url: str
) -> None:
    project = await new_project(api)
    where = path()
    await new_webhook(
        api,
        project,
        receiver.answer(where, 200),
        events=["schedule.failed", "schedule.recovered"],
    )
    passing = {**shop_test(pages_url), "name": "nightly shop"}
    test_id = await create_test(api, project, passing)
    made = await api.post(
        "/api/schedules",
        json={"name": "nightly", "test_id": test_id, "cron": "0 3 * * *", "paused": True},
        headers=project.headers,
    )
    schedule_id = made.json()["id"]

    async def definition(body: dict[str, Any]) -> None:
        answer = await api.put(f"/api/tests/{test_id}", json=body, headers=project.headers)
        assert answer.status_code == 200, answer.text

    await fire(api, project, schedule_id, 1)  # passes: nothing turned
    await definition(failing_test(pages_url, "nightly shop"))
    failed = await fire(api, project, schedule_id, 2)
    await fire(api, project, schedule_id, 3)  # fails again: still failing, nothing new
    await definition(passing)
    recovered = await fire(api, project, schedule_id, 4)
    got = await asyncio.to_thread(receiver.wait_for, where, 2)
    events = [json.loads(g.body) for g in got]
    assert [(e["type"], e["data"]["run"]["jobId"]) for e in events] == [
        ("schedule.failed", failed),
        ("schedule.recovered", recovered),
    ]
    assert events[0]["data"]["scheduleId"] == schedule_id
    await asyncio.sleep(1)
    assert len(receiver.at(where)) == 2
    await api.delete(f"/api/schedules/{schedule_id}", headers=project.headers)


async def test_workers_count_delivery_attempts_by_outcome(
    live: httpx.AsyncClient, worker_host: WorkerHost, receiver: Receiver
) -> None:
    def attempts(outcome: str) -> float:
        found = worker_host.metrics.registry.get_sample_value(
            "testrun_webhook_deliveries_total", {"outcome": outcome}
        )
        return found or 0.0

    project = await new_project(live)
    where = path()
    hook = await new_webhook(live, project, receiver.answer(where, 503, 200))
    failed, delivered = attempts("failed"), attempts("delivered")
    tested = await live.post(f"/api/webhooks/{hook['id']}/test", headers=project.headers)
    assert tested.status_code == 200, tested.text
    await asyncio.to_thread(receiver.wait_for, where, 2)
    for _ in range(50):
        if attempts("delivered") > delivered:
            break
        await asyncio.sleep(0.1)
    # at least: a delivery of another test may still be under way on the same worker
    assert attempts("failed") - failed >= 1 and attempts("delivered") - delivered >= 1


async def test_a_denied_address_is_refused_at_delivery_too(
    api: httpx.AsyncClient, api_settings: Settings, receiver: Receiver
) -> None:
    """The delivery decides again, at each attempt, before any connection: a webhook whose
    URL names loopback on a port EGRESS_ALLOW does not name (written into the database past
    the API's check at creation) is refused, for good (no retry). How a name is decided on
    the addresses it resolves to is in tests/fast/notify/."""
    project = await new_project(api)
    assert (
        await api.post(
            "/api/webhooks", json={"url": "http://localhost:9/hook"}, headers=project.headers
        )
    ).status_code == 422, "refused at creation"
    hook = await new_webhook(api, project, receiver.url + path())
    engine = create_engine(api_settings.database_url)
    try:
        async with AsyncSession(engine) as session:
            row = await session.get(Webhook, hook["id"])
            assert row is not None
            row.url = f"http://localhost:{free_port()}/hook"
            session.add(row)
            await session.commit()
    finally:
        await engine.dispose()
    tested = await api.post(f"/api/webhooks/{hook['id']}/test", headers=project.headers)
    assert tested.status_code == 200, tested.text
    for _ in range(100):
        log = await deliveries(api, project, hook["id"])
        if log[0]["attempt"] > 0:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    log = await deliveries(api, project, hook["id"])
    assert [(d["attempt"], d["outcome"]) for d in log] == [(1, "refused"), (0, "queued")]
    assert "127.0.0.1" in log[0]["error"] or "::1" in log[0]["error"], log[0]["error"]


async def test_deliveries_past_the_project_s_rate_are_logged_and_not_sent(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    """The rate counts deliveries started, not their attempts nor the refused ones."""
    project = await new_project(api, limits={"max_deliveries_per_minute": 2})
    where = path()
    hook = await new_webhook(api, project, receiver.answer(where, 500, 200))
    test_path = f"/api/webhooks/{hook['id']}/test"
    first = (await api.post(test_path, headers=project.headers)).json()
    await asyncio.to_thread(receiver.wait_for, where, 2)  # a failed attempt, then delivered
    later = [(await api.post(test_path, headers=project.headers)).json() for _ in range(2)]
    assert [first["started"], *(s["started"] for s in later)] == [True, True, False]
    await asyncio.to_thread(receiver.wait_for, where, 3)
    log = await deliveries(api, project, hook["id"])
    limited = [d for d in log if d["outcome"] == "rate_limited"]
    assert len(limited) == 1 and "2 deliveries a minute" in limited[0]["error"]
    await asyncio.sleep(1)
    assert len(receiver.at(where)) == 3
