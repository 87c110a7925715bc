"""Slot refill: how long a freed session slot stays empty while runs of the project wait.

Start the service first (scripts/serve), then:  python -m bench.refill [--runs 20]
A project with max_parallel 1 queues N one-step runs on the demo page while paused, then
resumes. Each gap runs from a run's end (`finishedOn`: its browser context's close) to the
next run's first step (the worker's `step_started` event, read from the run's live stream in
Redis): admission, the grant reaching the workflow, the session's opening and the step's
dispatch. Printed beside it: the gap from the run's last step's end (its last step event, a
reference that does not depend on what a version calls the run's end), the gap to the next
run's start in the history (its browser context opened), and the runs' own duration (start
to end), the time a slot is in use; the share of slot time lost is gap / (gap + duration).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from redis.asyncio import Redis
from temporalio.client import Client

from bench.burst import paused_project, percentile
from bench.refill_parts import breakdown, moments
from core.config import get_settings
from devstack.demo import demo_url
from live.events import RunEvent, job_stream


def moment(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def local_redis_url() -> str:
    """REDIS_URL, else the Redis that `scripts/serve` starts on this machine."""
    settings = get_settings()
    return settings.effective_redis_url or f"redis://127.0.0.1:{settings.redis_port}"


@dataclass
class StepTimes:
    """When a run's context opened, its first step started and its last step ended, from its
    live events."""

    opened: float
    first_started: float
    last_ended: float


async def step_times(job_ids: list[str], redis_url: str) -> dict[str, StepTimes]:
    """Each run's first step start and last step end, from its live stream."""
    redis = Redis.from_url(redis_url)
    found: dict[str, StepTimes] = {}
    try:
        for job in job_ids:
            entries: Any = await redis.xrange(job_stream(job))
            events = [RunEvent.from_fields(fields) for _, fields in entries]
            first = next(
                e.at for e in events if e.type == "step_started" and e.data.get("index") == 0
            )
            last = max(e.at for e in events if e.type in ("step_passed", "step_failed"))
            opened = next(e.at for e in events if e.type == "started")
            found[job] = StepTimes(opened.timestamp(), first.timestamp(), last.timestamp())
    finally:
        await redis.aclose()
    return found


def summary(label: str, gaps_ms: list[float]) -> str:
    return (
        f"{label}: p50 {statistics.median(gaps_ms):.0f} ms, "
        f"p90 {percentile(gaps_ms, 0.9):.0f} ms, max {max(gaps_ms):.0f} ms"
    )


async def main(runs: int, base_url: str, redis_url: str, temporal: str) -> None:
    definition = {
        "name": "refill",
        "start_url": demo_url() + "shop.html",
        "steps": [{"action": "click", "selector": "#buy"}],
    }
    headers, test_id, _ = await paused_project(base_url, "refill", definition)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
        await api.patch("/api/projects/me", json={"max_parallel": 1}, headers=headers)
        route = f"/api/execution/test/{test_id}/run"
        jobs = [(await api.post(route, headers=headers)).json()["jobId"] for _ in range(runs)]
        await api.post("/api/execution/queue/resume", headers=headers)
        while True:
            history = (await api.get("/api/runs", params={"limit": runs}, headers=headers)).json()
            if sum(run["state"] == "completed" for run in history) == runs:
                break
            await asyncio.sleep(0.5)
    by_job = {run["jobId"]: run for run in history}
    ordered = sorted((by_job[job] for job in jobs), key=lambda run: moment(run["startedAt"]))
    steps = await step_times(jobs, redis_url)
    first_step = {job: times.first_started for job, times in steps.items()}
    pairs = list(zip(ordered, ordered[1:], strict=False))
    gaps = [first_step[later["jobId"]] - moment(earlier["finishedOn"]) for earlier, later in pairs]
    step_to_step = [
        first_step[later["jobId"]] - steps[earlier["jobId"]].last_ended for earlier, later in pairs
    ]
    to_start = [
        moment(later["startedAt"]) - moment(earlier["finishedOn"]) for earlier, later in pairs
    ]
    durations = [moment(run["finishedOn"]) - moment(run["startedAt"]) for run in ordered]
    print(f"slot refill, {runs} one-step runs, max_parallel 1, {base_url}")
    print(summary("gap from a run's end to the next run's first step", [g * 1000 for g in gaps]))
    print("  (target p50 <= 50 ms)")
    print(
        summary(
            "gap from a run's last step's end to the next run's first step",
            [g * 1000 for g in step_to_step],
        )
    )
    print(
        summary(
            "gap from a run's end to the next run's context opened", [g * 1000 for g in to_start]
        )
    )
    client = await Client.connect(temporal)
    nexts = [await moments(client, later["jobId"]) for _, later in pairs]
    print("where the gap to the first step goes (p50 of each part):")
    ends = [moment(earlier["finishedOn"]) for earlier, _ in pairs]
    opened = [steps[later["jobId"]].opened for _, later in pairs]
    print(breakdown(ends, nexts, opened, [first_step[later["jobId"]] for _, later in pairs]))
    run_ms = statistics.median(durations) * 1000
    lost = statistics.median(gaps) / (statistics.median(gaps) + statistics.median(durations))
    print(f"run duration (slot in use), p50: {run_ms:.0f} ms; slot time lost: {lost:.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--redis", default=None, help="the service's Redis (REDIS_URL)")
    parser.add_argument("--temporal", default="127.0.0.1:7233", help="the service's Temporal")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.url, args.redis or local_redis_url(), args.temporal))
