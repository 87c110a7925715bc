"""A suite's wall time with its runs queued longest first, against the suite's own order.

Start the service first (`scripts/serve`), then:  python -m bench.suite_order [--rounds 2]

A project with max_parallel 2 holds 20 tests of mixed durations (19 of 0.5 to 1.5 s and one of
8 s, the long one last in the suite, as an alphabetical suite often has it). Each round runs
them twice, with the queue paused until every run is in: once queued one by one in the suite's
order (FIFO: what a queue without the ordering does), once as a suite run (longest first, by
the durations the earlier rounds recorded). The wall time is from the first run's start to the
last one's end. Target: the suite run at least 15 % shorter.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import httpx

from bench.burst import paused_project
from bench.refill import moment
from devstack.demo import demo_url

SHORT_MS = [500 + (index * 397) % 1001 for index in range(19)]
LONG_MS = 8000


def definition(name: str, wait_ms: int) -> dict:
    return {
        "name": name,
        "start_url": demo_url() + "shop.html",
        "steps": [{"action": "click", "selector": "#buy"}, {"action": "wait", "value": wait_ms}],
    }


async def wall_time(api: httpx.AsyncClient, headers: dict, jobs: list[str]) -> tuple[float, float]:
    """Resume the project's queue and wait for the runs: the wall time from the first start to
    the last end, and the bound no order can beat (the runs' own durations over 2 slots)."""
    await api.post("/api/execution/queue/resume", headers=headers)
    runs = []
    for job in jobs:
        while True:
            found = (await api.get(f"/api/runs/{job}", headers=headers)).json()
            if found["state"] in ("completed", "failed", "cancelled", "timed_out"):
                break
            await asyncio.sleep(0.5)
        if found["state"] != "completed":
            raise SystemExit(f"{job} {found['state']}: {found['error']}")
        runs.append(found)
    await api.post("/api/execution/queue/pause", headers=headers)
    start = min(moment(run["startedAt"]) for run in runs)
    busy = sum(moment(run["finishedOn"]) - moment(run["startedAt"]) for run in runs)
    return max(moment(run["finishedOn"]) for run in runs) - start, busy / 2


async def main(base_url: str, rounds: int) -> None:
    headers, _, _ = await paused_project(base_url, "suite-order")
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
        await api.patch("/api/projects/me", json={"max_parallel": 2}, headers=headers)
        test_ids = []
        waits = [*SHORT_MS, LONG_MS]
        for index, wait_ms in enumerate(waits):
            made = await api.post(
                "/api/tests", json=definition(f"t{index:02d}", wait_ms), headers=headers
            )
            test_ids.append(made.json()["id"])
        suite = await api.post(
            "/api/suites", json={"name": "mixed", "test_ids": test_ids}, headers=headers
        )
        fifo, longest, bounds = [], [], []
        for round_number in range(1, rounds + 1):
            jobs = []
            for test_id in test_ids:
                queued = await api.post(f"/api/execution/test/{test_id}/run", headers=headers)
                jobs.append(queued.json()["jobId"])
            took, bound = await wall_time(api, headers, jobs)
            fifo.append(took)
            queued = await api.post(
                f"/api/execution/suite/{suite.json()['id']}/run", headers=headers
            )
            order = [job["testId"] for job in queued.json()["jobs"]]
            suite_jobs = [job["jobId"] for job in queued.json()["jobs"]]
            took, bound = await wall_time(api, headers, suite_jobs)
            longest.append(took)
            bounds.append(bound)
            first = "the long test first" if order[0] == test_ids[-1] else "long test not first"
            print(
                f"round {round_number}: suite order (FIFO) {fifo[-1]:.2f} s, longest first"
                f" {longest[-1]:.2f} s ({longest[-1] / fifo[-1]:.2f}x; {first}); no order"
                f" beats {bound:.2f} s (its runs' durations over 2 slots)"
            )
    print(f"work: {sum(waits) / 1000:.1f} s of waits over 2 slots, the longest {LONG_MS / 1000} s")
    ratio = statistics.median(longest) / statistics.median(fifo)
    best = statistics.median(bounds) / statistics.median(fifo)
    print(f"the most any order could save here: {100 * (1 - best):.0f} %")
    print(
        f"median: FIFO {statistics.median(fifo):.2f} s, longest first"
        f" {statistics.median(longest):.2f} s = {100 * (1 - ratio):.0f} % shorter (target >= 15 %)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.url, arguments.rounds))
