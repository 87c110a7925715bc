"""Live progress over Redis Streams: SSE and WebSocket per job and per project, resuming after
Last-Event-ID, position events, the short cache, and a Redis outage in the middle of a run."""

from __future__ import annotations

import asyncio
import json
import uuid
import weakref
from typing import Any

import httpx
import redis.asyncio as aioredis
import websockets

from core.config import Settings
from live.events import (
    FINISHED_TTL_S,
    JOB_STREAM_MAXLEN,
    STREAM_TTL_S,
    RunEvent,
    job_stream,
    project_stream,
)
from live.publisher import EventPublisher
from live.redis_link import connect_redis
from tests.api.jobs import create_test, queue, wait_for_job, wait_for_stored_state
from tests.api.live_server import read_events
from tests.api.queue_helpers import queue_at_once, wait_test
from tests.support.api_fixtures import new_project
from tests.support.definitions import flaky_test
from tests.support.redis import RedisServer

FINAL = {"completed", "failed", "cancelled", "timed_out"}


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["event"] for event in events]


async def test_job_stream_tells_the_whole_run_in_order(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    job_id = await queue(live, project, await create_test(live, project, flaky_test(pages_url)))

    events = await read_events(live, f"/api/execution/job/{job_id}/events", project)

    # a `position` event comes only if the run waits over a second for its turn (a busy machine)
    assert [kind for kind in kinds(events) if kind != "position"] == [
        "queued",
        "started",
        "step_started",
        "step_failed",
        "retrying",
        "step_started",
        "step_passed",
        "step_started",
        "step_passed",
        "completed",
    ]
    by_kind = {event["event"]: event["data"] for event in events}
    assert by_kind["queued"]["data"]["position"] == 1
    failed = by_kind["step_failed"]["data"]
    assert failed["attempt"] == 1 and failed["retryInS"] == 0.5 and "503" in failed["error"]
    assert by_kind["retrying"]["data"] == {"index": 0, "nextAttempt": 2, "inS": 0.5}
    assert events[-1]["data"]["data"]["flaky"] is True
    assert events[-1]["data"]["data"]["progress"] == 100
    assert [e["data"]["data"]["progress"] for e in events if e["event"] == "step_passed"] == [
        60,
        90,
    ]
    assert all(event["data"]["jobId"] == job_id for event in events)
    assert len({event["id"] for event in events}) == len(events)


async def test_reconnecting_with_last_event_id_misses_nothing(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    test_id = await create_test(live, project, flaky_test(pages_url))
    job_id = await queue(live, project, test_id)
    path = f"/api/execution/job/{job_id}/events"

    first = await read_events(live, path, project, stop_when=lambda seen: len(seen) == 3)
    rest = await read_events(live, path, project, last_event_id=first[-1]["id"])
    whole = await read_events(live, path, project)

    assert [e["id"] for e in first + rest] == [e["id"] for e in whole]
    assert rest[-1]["event"] == "completed"


async def test_websocket_streams_a_job_and_closes_after_its_end(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    job_id = await queue(live, project, await create_test(live, project, flaky_test(pages_url)))
    url = str(live.base_url).replace("http", "ws") + f"/api/execution/job/{job_id}/ws"

    messages = []
    async with websockets.connect(url, additional_headers=project.headers) as socket:
        async for raw in socket:
            messages.append(json.loads(raw))
        assert socket.close_code == 1000
    assert [m["event"] for m in messages][0] == "queued"
    assert messages[-1]["event"] == "completed"
    assert all(m["id"] for m in messages)

    resumed = []
    after = f"{url}?token={project.token}&lastEventId={messages[-3]['id']}"
    async with websockets.connect(after) as socket:
        resumed = [json.loads(raw) async for raw in socket]
    assert [m["id"] for m in resumed] == [m["id"] for m in messages[-2:]]


async def test_websocket_refuses_a_wrong_token_and_another_projects_job(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    owner, other = await new_project(live), await new_project(live)
    job_id = await queue(live, owner, await create_test(live, owner, wait_test(pages_url, 10)))
    url = str(live.base_url).replace("http", "ws") + f"/api/execution/job/{job_id}/ws"

    async with websockets.connect(url + "?token=wrong") as socket:
        await socket.wait_closed()
        assert socket.close_code == 4401
    async with websockets.connect(url, additional_headers=other.headers) as socket:
        await socket.wait_closed()
        assert socket.close_code == 4404
    response = await live.get(f"/api/execution/job/{job_id}/events", headers=other.headers)
    assert response.status_code == 404


async def test_a_queued_run_hears_its_position_fall(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live, max_parallel=1)
    test_id = await create_test(live, project, wait_test(pages_url, 1500))
    queued = await queue_at_once(live, project, test_id, 3)
    third = next(q["jobId"] for q in queued if q["position"] == 3)
    await wait_for_job(live, project, third, ("completed",))

    path = f"/api/execution/job/{third}/events"
    events = await read_events(live, path, project)
    positions = [
        e["data"]["data"]["position"] for e in events if e["event"] in ("queued", "position")
    ]
    assert positions[0] == 3 and positions[-1] == 1
    assert positions == sorted(positions, reverse=True)
    assert kinds(events)[-1] == "completed"


async def test_project_stream_carries_every_run_of_the_project(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live, max_parallel=2)
    test_id = await create_test(live, project, wait_test(pages_url, 200))

    def both_ended(seen: list[dict[str, Any]]) -> bool:
        return sum(e["event"] in FINAL for e in seen) == 2

    watcher = asyncio.create_task(
        read_events(live, "/api/execution/events", project, stop_when=both_ended)
    )
    await asyncio.sleep(1)  # a project's watcher starts at the newest event
    jobs = {await queue(live, project, test_id) for _ in range(2)}
    events = await asyncio.wait_for(watcher, 60)

    assert {e["data"]["jobId"] for e in events} == jobs
    assert [e["event"] for e in events].count("queued") == 2
    finals = [e for e in events if e["event"] in FINAL]
    assert all(e["event"] == "completed" for e in finals)
    replayed = await read_events(
        live, "/api/execution/events", project, last_event_id="0-0", stop_when=both_ended
    )
    assert [e["id"] for e in replayed] == [e["id"] for e in events], "0-0 replays from the start"


async def test_job_status_of_an_active_run_is_cached_for_a_second(
    live: httpx.AsyncClient, settings: Settings, pages_url: str
) -> None:
    project = await new_project(live)
    job_id = await queue(
        live, project, await create_test(live, project, wait_test(pages_url, 3000))
    )
    await wait_for_job(live, project, job_id, ("active",))
    async with aioredis.Redis.from_url(settings.redis_url or "") as client:
        await client.delete(f"cache:progress:{job_id}")
        responses = await asyncio.gather(
            *(live.get(f"/api/execution/job/{job_id}", headers=project.headers) for _ in range(20))
        )
        ttl_ms = await client.pttl(f"cache:progress:{job_id}")
    assert all(r.status_code == 200 and r.json()["job"]["state"] == "active" for r in responses)
    assert 0 < ttl_ms <= 1000


async def test_redis_outage_loses_no_run_and_streams_resume(
    live: httpx.AsyncClient, redis_server: RedisServer, pages_url: str
) -> None:
    """Redis stops while a run executes: runs still queue, execute and store their results,
    job status answers, and the open stream carries on once Redis is back."""
    project = await new_project(live)
    slow = {
        "name": "six slow steps",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "wait", "value": 800} for _ in range(6)],
    }
    test_id = await create_test(live, project, slow)
    job_id = await queue(live, project, test_id)
    received: list[dict[str, Any]] = []
    first_step = asyncio.Event()

    async def watch() -> None:
        path = f"/api/execution/job/{job_id}/events"
        async with httpx.AsyncClient(base_url=live.base_url, timeout=120) as client:
            from httpx_sse import aconnect_sse

            async with aconnect_sse(client, "GET", path, headers=project.headers) as source:
                async for sse in source.aiter_sse():
                    if not sse.data:
                        continue
                    received.append({"event": sse.event, "data": sse.json()})
                    if sse.event == "step_passed":
                        first_step.set()

    watcher = asyncio.create_task(watch())
    await asyncio.wait_for(first_step.wait(), 60)
    redis_server.stop()
    try:
        during = await queue(live, project, test_id)
        status = await live.get(f"/api/execution/job/{job_id}", headers=project.headers)
        assert status.status_code == 200 and status.json()["job"]["state"] == "active"
        await asyncio.sleep(1.5)
    finally:
        redis_server.start()
    await asyncio.wait_for(watcher, 90)

    assert any(e["event"] == "snapshot" for e in received)
    after_outage = received[[e["event"] for e in received].index("snapshot") :]
    assert any(e["event"] == "step_passed" for e in after_outage)
    assert received[-1]["event"] in ("completed", "snapshot")
    assert received[-1]["data"].get("state", "completed") == "completed"
    await wait_for_stored_state(live, project, job_id, "completed")
    await wait_for_stored_state(live, project, during, "completed", timeout=60)


async def test_streams_are_capped_and_expire_after_the_run(
    live: httpx.AsyncClient, settings: Settings, pages_url: str
) -> None:
    project = await new_project(live)
    job_id = await queue(live, project, await create_test(live, project, wait_test(pages_url, 10)))
    await read_events(live, f"/api/execution/job/{job_id}/events", project)
    publisher = EventPublisher(connect_redis(settings))
    flood = f"flood-{uuid.uuid4().hex[:8]}"
    for i in range(3 * JOB_STREAM_MAXLEN):
        publisher.publish(RunEvent(type="position", jobId=flood, projectId="flood", data={"i": i}))
    await publisher.close()

    async with aioredis.Redis.from_url(settings.redis_url or "") as client:
        finished_ttl = await client.ttl(job_stream(job_id))
        project_ttl = await client.ttl(project_stream(str(project.id)))
        flooded = await client.xlen(job_stream(flood))
        await client.delete(job_stream(flood), project_stream("flood"))
    assert 0 < finished_ttl <= FINISHED_TTL_S, "a run's stream expires an hour after its end"
    assert FINISHED_TTL_S < project_ttl <= STREAM_TTL_S
    assert JOB_STREAM_MAXLEN <= flooded < JOB_STREAM_MAXLEN * 1.2, "capped (approximately)"


async def test_the_publisher_keeps_no_event_once_it_is_written(settings: Settings) -> None:
    """After a burst, the events of the last batch are not kept until the next event comes
    (up to 500 events, and the memory pages they sit in)."""
    publisher = EventPublisher(connect_redis(settings))
    job_id = f"let-go-{uuid.uuid4().hex[:8]}"
    events = [
        RunEvent(type="position", jobId=job_id, projectId="let-go", data={"i": i})
        for i in range(50)
    ]
    written = [weakref.ref(event) for event in events]
    for event in events:
        publisher.publish(event)
    del events, event
    await publisher.flush()
    await asyncio.sleep(0)
    kept = sum(reference() is not None for reference in written)
    await publisher.close()
    async with aioredis.Redis.from_url(settings.redis_url or "") as client:
        stored = await client.xlen(job_stream(job_id))
        await client.delete(job_stream(job_id), project_stream("let-go"))
    assert stored == 50
    assert kept == 0, f"{kept} of 50 written events are still referenced"


async def test_open_streams_hold_no_database_connection(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    """More watchers than the database pool has connections: the API still answers."""
    project = await new_project(live)
    await live.post("/api/execution/queue/pause", headers=project.headers)
    job_id = await queue(live, project, await create_test(live, project, wait_test(pages_url, 10)))
    path = f"/api/execution/job/{job_id}/events"
    watchers = [asyncio.create_task(read_events(live, path, project)) for _ in range(60)]
    await asyncio.sleep(3)  # a window in which no stream may end
    assert not any(w.done() for w in watchers), "the streams are open"

    status = await asyncio.wait_for(
        live.get(f"/api/execution/job/{job_id}", headers=project.headers), 10
    )
    assert status.status_code == 200 and status.json()["job"]["state"] == "waiting"
    cancelled = await live.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    assert cancelled.status_code == 200
    streams = await asyncio.wait_for(asyncio.gather(*watchers), 60)
    assert all(kinds(events)[-1] == "cancelled" for events in streams)


async def test_a_cancel_mid_step_is_the_run_s_cancelled_event_not_a_step_failure(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    job_id = await queue(
        live, project, await create_test(live, project, wait_test(pages_url, 30_000))
    )
    path = f"/api/execution/job/{job_id}/events"

    def step_begun(events: list[dict[str, Any]]) -> bool:
        return "step_started" in kinds(events)

    await asyncio.wait_for(read_events(live, path, project, stop_when=step_begun), 60)
    await live.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    events = await asyncio.wait_for(read_events(live, path, project), 60)
    assert "step_failed" not in kinds(events), kinds(events)
    assert kinds(events)[-1] == "cancelled"
    assert events[0]["data"]["data"]["testName"] == "hold 30000 ms"
    assert events[-1]["data"]["data"]["testName"] == "hold 30000 ms"
