"""Slot refill: how long a freed session slot stays empty while runs of the project wait.

Start the service first (scripts/serve), then:  python -m bench.refill [--runs 20]
A project with max_parallel 1 queues N one-step runs on the demo page while paused, then
resumes. From the run history, each gap is a run's start (its browser context opened) minus the
previous run's end (its result stored): admission, the grant reaching the workflow, and the
session activity's dispatch. Printed beside it, measured in the same run: the runs' own
duration (start to end), the time a slot is in use; the share of slot time lost is
gap / (gap + duration).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from datetime import datetime

import httpx

from bench.burst import paused_project, percentile
from devstack.demo import demo_url


def moment(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def main(runs: int, base_url: str) -> None:
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
    gaps = [
        moment(later["startedAt"]) - moment(earlier["finishedOn"])
        for earlier, later in zip(ordered, ordered[1:], strict=False)
    ]
    durations = [moment(run["finishedOn"]) - moment(run["startedAt"]) for run in ordered]
    gap_ms = [gap * 1000 for gap in gaps]
    print(f"slot refill, {runs} one-step runs, max_parallel 1, {base_url}")
    print(
        f"gap from a run's end to the next run's start: p50 {statistics.median(gap_ms):.0f} ms, "
        f"p90 {percentile(gap_ms, 0.9):.0f} ms, max {max(gap_ms):.0f} ms (target p50 <= 50 ms)"
    )
    run_ms = statistics.median(durations) * 1000
    lost = statistics.median(gaps) / (statistics.median(gaps) + statistics.median(durations))
    print(f"run duration (slot in use), p50: {run_ms:.0f} ms; slot time lost: {lost:.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.url))
