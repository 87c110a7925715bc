"""Webhook deliveries under load: runs finishing with a webhook each, against the same runs
with none, on one in-process stack (a dev server, Redis, SQLite, the API with its dispatcher
and one worker with 2 sessions); the receiver is on loopback and answers at once.

Usage: python -m bench.webhooks [--runs 1000] [--baseline-runs 300] [--max-parallel 2]

Figures: the delivery latency from each run's end (its recorded finish) to the receipt, p50
and p99 (target: p99 <= 1 s), and the process's CPU per run with a webhook against without
one: the difference is the CPU a delivery costs (event, workflow, signed POST, log row).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import time
import uuid
from datetime import datetime

import httpx

from api.app import create_app
from bench.stack import bench_stack
from devstack.static_server import StaticServer
from tests.support.pages import PAGES_DIR
from tests.support.receiver import Receiver, webhook_receiver

ADMIN = "admin-" + uuid.uuid4().hex


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_many(
    api: httpx.AsyncClient, headers: dict[str, str], test_id: int, count: int
) -> list[dict]:
    """Queue `count` runs of the test at once and wait until all have ended; their records."""
    route = f"/api/execution/test/{test_id}/run"
    jobs = []
    for start in range(0, count, 100):
        answers = await asyncio.gather(
            *(api.post(route, headers=headers) for _ in range(min(100, count - start)))
        )
        jobs += [answer.json()["jobId"] for answer in answers]
    while True:
        found = (
            await api.get("/api/runs", params={"limit": 500, "state": "waiting"}, headers=headers)
        ).json() + (
            await api.get("/api/runs", params={"limit": 500, "state": "active"}, headers=headers)
        ).json()
        if not found:
            break
        await asyncio.sleep(0.5)
    runs = []
    for offset in range(0, count, 500):
        page = await api.get("/api/runs", params={"limit": 500, "offset": offset}, headers=headers)
        runs += page.json()
    return runs


async def project(
    api: httpx.AsyncClient, pages_url: str, max_parallel: int
) -> tuple[dict[str, str], int]:
    made = await api.post(
        "/api/projects",
        json={
            "name": f"hooks-{uuid.uuid4().hex[:6]}",
            "max_parallel": max_parallel,
            "limits": {"max_waiting": 100_000, "max_deliveries_per_minute": 100_000},
        },
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    headers = {"Authorization": f"Bearer {made.json()['token']}"}
    definition = {
        "name": "one click",
        "start_url": pages_url + "shop.html",
        "steps": [{"action": "click", "selector": "#buy"}],
    }
    test = await api.post("/api/tests", json=definition, headers=headers)
    return headers, int(test.json()["id"])


def latencies(receiver: Receiver, where: str, runs: list[dict]) -> list[float]:
    """Seconds from each run's end to the receipt of its run.finished."""
    ended = {
        run["jobId"]: datetime.fromisoformat(run["finishedOn"]).timestamp()
        for run in runs
        if run["finishedOn"]
    }
    found = []
    for got in receiver.at(where):
        job = json.loads(got.body)["data"]["run"]["jobId"]
        if job in ended:
            found.append(got.at - ended[job])
    return found


async def measure(runs: int, baseline_runs: int, max_parallel: int) -> None:
    with StaticServer(PAGES_DIR) as pages_url, webhook_receiver() as receiver:
        async with bench_stack(
            2, pages_url, receiver.netloc, admin_token=ADMIN, webhook_retry_initial_s=1.0
        ) as (_client, host):
            app = create_app(host.settings)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://api", timeout=120
                ) as api:
                    headers, test_id = await project(api, pages_url, max_parallel)
                    await run_many(api, headers, test_id, 20)  # warm up
                    before = cpu_s()
                    await run_many(api, headers, test_id, baseline_runs)
                    plain_cpu = (cpu_s() - before) / baseline_runs

                    where = f"/hook/{uuid.uuid4().hex[:8]}"
                    hooked_headers, hooked_test = await project(api, pages_url, max_parallel)
                    await api.post(
                        "/api/webhooks",
                        json={"url": receiver.answer(where, 200)},
                        headers=hooked_headers,
                    )
                    before = cpu_s()
                    started = time.monotonic()
                    done = await run_many(api, hooked_headers, hooked_test, runs)
                    deadline = time.monotonic() + 60
                    while len(receiver.at(where)) < runs and time.monotonic() < deadline:
                        await asyncio.sleep(0.2)
                    hooked_cpu = (cpu_s() - before) / runs
                    wall = time.monotonic() - started
    seconds = sorted(latencies(receiver, where, done))
    ids = [json.loads(g.body)["id"] for g in receiver.at(where)]
    print(
        f"runs with a webhook: {runs} in {wall:.0f} s (max_parallel {max_parallel});"
        f" deliveries received: {len(ids)}"
    )
    print(f"  duplicates received: {len(ids) - len(set(ids))}")
    if seconds:
        p99 = seconds[min(len(seconds) - 1, int(len(seconds) * 0.99))]
        print(
            f"delivery latency from run end: p50 {statistics.median(seconds) * 1000:.0f} ms,"
            f" p99 {p99 * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms (target p99 <= 1000 ms)"
        )
    print(
        f"CPU per run (API, dispatcher, worker and Temporal client in one process):"
        f" {plain_cpu * 1000:.1f} ms without a webhook ({baseline_runs} runs),"
        f" {hooked_cpu * 1000:.1f} ms with one: {(hooked_cpu - plain_cpu) * 1000:.1f} ms"
        " per delivery"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--baseline-runs", type=int, default=300)
    parser.add_argument(
        "--max-parallel", type=int, default=2, help="1: one run at a time, the machine not full"
    )
    arguments = parser.parse_args()
    asyncio.run(measure(arguments.runs, arguments.baseline_runs, arguments.max_parallel))


if __name__ == "__main__":
    main()
