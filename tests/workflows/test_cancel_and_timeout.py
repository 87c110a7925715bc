"""Cancelling a run mid-step and exceeding its timeout: teardown runs, no context is left."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from typing import Any

from redis.asyncio import Redis
from temporalio.client import WorkflowExecutionStatus

from browser.pool import owner_args
from core.config import Settings
from devstack.temporal_server import temporal_binary
from live.events import RunEvent, job_stream
from tests.support.processes import renderer_count
from tests.support.runs import (
    outcome,
    poll,
    progress,
    start_run,
    stuck_test,
    until_closed,
    wait_for_progress,
)


def renderers_of(worker_id: str) -> int:
    """Renderer processes of the worker's Chromium (its warm context has some at rest)."""
    return renderer_count(os.getpid(), owner_args(worker_id)[0])


async def renderers_at_rest(host) -> int:  # type: ignore[no-untyped-def]
    """The worker's renderers with its warm context open and earlier runs' pages gone."""
    await host.pool.warm()
    count = renderers_of(host.worker_id)
    for _ in range(25):
        await asyncio.sleep(0.2)
        now = renderers_of(host.worker_id)
        if now == count:
            break
        count = now
    return count


async def renderers_after_settling(worker_id: str, at_rest: int, timeout: float = 10) -> int:
    """Renderer processes of the worker's Chromium, once closing pages have exited."""
    deadline = time.monotonic() + timeout
    count = renderers_of(worker_id)
    while count > at_rest and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        count = renderers_of(worker_id)
    return count


async def test_cancel_mid_step_interrupts_the_step_and_tears_down(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    at_rest = await renderers_at_rest(worker_host)
    stuck = stuck_test(pages_url)
    stuck["steps"].append({"action": "click", "selector": "#buy"})
    handle = await start_run(client, job_id, stuck)
    running = await wait_for_progress(handle, lambda p: p.current_step == 1)
    first = running.steps[0]
    assert (first.status, first.attempts, first.selector_used) == ("passed", 1, "#buy"), (
        "a passed step shows its attempts, selector and duration while the run goes on"
    )
    assert first.duration_ms is not None
    await asyncio.sleep(0.5)  # well inside the 30 s wait

    asked = time.monotonic()
    await handle.cancel()
    status = await until_closed(handle)
    took = time.monotonic() - asked

    assert status == WorkflowExecutionStatus.CANCELED
    assert took < 10, f"cancel took {took:.1f} s; the step alone would have waited 30 s"
    print(f"cancel mid-step -> CANCELED in {took:.2f} s")
    result = await progress(handle)
    assert result.state == "cancelled"
    assert [step.status for step in result.steps] == ["passed", "cancelled", "skipped"]
    kept = result.steps[0]
    assert (kept.attempts, kept.selector_used) == (1, "#buy"), "a cancel keeps what passed"
    assert kept.duration_ms is not None
    assert worker_host.pool.open_count == 0
    assert await renderers_after_settling(worker_host.worker_id, at_rest) <= at_rest, (
        "a renderer outlived its context"
    )


async def first_step_started(settings: Settings, job_id: str) -> None:
    """Wait for the run's live event that its first step began (the worker publishes it when
    the attempt starts, long before the run hears of the step from a pulse)."""
    redis = Redis.from_url(str(settings.redis_url))

    async def started() -> bool:
        entries: Any = await redis.xrange(job_stream(job_id))
        events = [RunEvent.from_fields(fields) for _, fields in entries]
        return any(event.type == "step_started" for event in events)

    try:
        await poll(started, bool, lambda _: "the first step never started", 60)
    finally:
        await redis.aclose()


async def test_cancel_before_any_pulse_records_the_step_it_interrupted(
    client, worker_host, settings: Settings, pages_url: str, job_id: str
) -> None:
    stuck = stuck_test(pages_url)
    stuck["steps"].reverse()  # the first step waits 30 s; the click after it never comes
    handle = await start_run(client, job_id, stuck)
    await first_step_started(settings, job_id)
    told = await progress(handle)
    assert told.current_step is None, "a pulse came first: this test would prove nothing"

    await handle.cancel()
    assert await until_closed(handle) == WorkflowExecutionStatus.CANCELED
    result = await progress(handle)
    assert [step.status for step in result.steps] == ["cancelled", "skipped"]
    assert result.steps[0].attempts == 1


async def test_cancel_from_the_temporal_cli(
    client, worker_host, pages_url: str, job_id: str, settings
) -> None:
    handle = await start_run(client, job_id, stuck_test(pages_url))
    await wait_for_progress(handle, lambda p: p.current_step == 1)
    subprocess.run(
        [
            temporal_binary(),
            "workflow",
            "cancel",
            "-w",
            job_id,
            "--address",
            settings.temporal_address,
        ],
        check=True,
        capture_output=True,
    )
    assert await until_closed(handle) == WorkflowExecutionStatus.CANCELED
    assert worker_host.pool.open_count == 0


async def test_cancel_while_waiting_for_a_slot(client, worker_host, pages_url: str) -> None:
    """A run cancelled before any worker had room never opens a context."""
    blockers = [
        await start_run(client, f"block-{i}-{time.time_ns()}", stuck_test(pages_url))
        for i in range(2)
    ]
    for blocker in blockers:
        await wait_for_progress(blocker, lambda p: p.current_step == 1)
    waiting = await start_run(client, f"waiting-{time.time_ns()}", stuck_test(pages_url))
    await asyncio.sleep(1)  # a window in which it must not start: no worker has room
    assert (await progress(waiting)).state == "waiting"
    await waiting.cancel()
    await until_closed(waiting)
    assert (await progress(waiting)).state == "cancelled"
    for blocker in blockers:
        await blocker.cancel()
    for blocker in blockers:
        await until_closed(blocker)
    assert worker_host.pool.open_count == 0


async def test_run_exceeding_its_timeout_ends_timed_out_after_teardown(
    client, worker_host, pages_url: str, job_id: str
) -> None:
    at_rest = await renderers_at_rest(worker_host)
    handle = await start_run(client, job_id, stuck_test(pages_url, timeout_s=3))
    result = await outcome(handle, timeout=30)
    assert result.state == "timed_out"
    assert result.error_type == "TestTimedOut"
    assert "exceeded 3 s" in result.error
    assert result.steps[1].status == "skipped"
    assert result.artifacts == ["trace-attempt-1.zip"], "teardown kept the trace"
    assert worker_host.pool.open_count == 0
    assert await renderers_after_settling(worker_host.worker_id, at_rest) <= at_rest
