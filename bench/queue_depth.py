"""Queue depth: N waiting runs in one project (default 10,000): enqueue throughput, position
lookup latency, and what the queue's state costs.

Start the service first (scripts/serve), then:  python -m bench.queue_depth [--runs 10000]
The project is paused, so its runs wait; they are cancelled afterwards.
Baseline, in the same run and with the same load generator: GET /api/projects/me, the cheapest
authenticated route (the API's floor per request).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

import httpx

from bench import rawhttp
from bench.burst import api_processes, cancel_all, paused_project, percentile, rss_mib
from bench.idle import settle, temporal_server
from core.config import get_settings
from core.temporal import connect


def database_bytes(url: str) -> int:
    """Size of the service's SQLite database with its write-ahead log (0 for PostgreSQL)."""
    if not url.startswith("sqlite:///"):
        return 0
    path = Path(url.removeprefix("sqlite:///"))
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


async def enqueue(
    host: str, port: int, headers: dict, test_id: int, total: int, senders: int
) -> tuple[list[tuple[float, float, str, int]], float]:
    """`senders` connections queue `total` runs between them; (finish time, latency, job,
    position) of each, and the wall time."""
    done: list[tuple[float, float, str, int]] = []
    remaining = iter(range(total))
    started = time.perf_counter()

    async def sender() -> None:
        for _ in remaining:
            status, body, elapsed = await rawhttp.request(
                host, port, "POST", f"/api/execution/test/{test_id}/run", headers
            )
            if status != 200:
                raise RuntimeError(f"queueing failed: {status} {body}")
            done.append((time.perf_counter() - started, elapsed, body["jobId"], body["position"]))

    await asyncio.gather(*(sender() for _ in range(senders)))
    return done, time.perf_counter() - started


async def lookups(
    host: str, port: int, headers: dict, paths: list[str], keep_alive: bool = False
) -> list[float]:
    """Sequential GETs (one client waiting for each answer), each on a new connection or all on
    one kept-alive connection: latency of each."""
    latencies = []
    connection = rawhttp.KeepAlive(host, port)
    for path in paths:
        if keep_alive:
            status, _body, elapsed = await connection.request("GET", path, headers)
        else:
            status, _body, elapsed = await rawhttp.request(host, port, "GET", path, headers)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        latencies.append(elapsed)
    connection.close()
    return latencies


async def check_positions(
    host: str, port: int, headers: dict, sample: list[tuple[str, int]]
) -> int:
    """How many sampled runs report a position other than the one they were queued with."""
    wrong = 0
    for job_id, position in sample:
        _status, body, _ = await rawhttp.request(
            host, port, "GET", f"/api/execution/job/{job_id}", headers
        )
        wrong += body["job"]["position"] != position
    return wrong


async def materialised(total_before: int, target: int, timeout_s: float) -> float | None:
    """Seconds until Temporal holds `target` more running TestRun workflows (None: timeout)."""
    client = await connect(get_settings())
    started = time.perf_counter()
    query = "WorkflowType = 'TestRun' AND ExecutionStatus = 'Running'"
    while time.perf_counter() - started < timeout_s:
        if (await client.count_workflows(query)).count - total_before >= target:
            return time.perf_counter() - started
        await asyncio.sleep(2)
    return None


async def main(total: int, senders: int, samples: int, base_url: str) -> None:
    settings = get_settings()
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    processes = api_processes(port)
    temporal = await connect(settings)
    running_before = (
        await temporal.count_workflows("WorkflowType = 'TestRun' AND ExecutionStatus = 'Running'")
    ).count
    headers, test_id, _definition = await paused_project(base_url, "depth")

    memory_before, db_before = rss_mib(processes), database_bytes(settings.database_url)
    queued, wall = await enqueue(host, port, headers, test_id, total, senders)
    memory_after, db_after = rss_mib(processes), database_bytes(settings.database_url)
    windows = [0] * (int(wall) + 1)
    for finished, *_ in queued:
        windows[int(finished)] += 1
    full_windows = windows[:-1] or windows
    positions = sorted(position for *_, position in queued)

    sample = random.Random(7).sample([(job, pos) for *_, job, pos in queued], samples)
    job_paths = [f"/api/execution/job/{job}" for job, _ in sample]
    busy_lookups = await lookups(host, port, headers, job_paths)  # workflows still starting
    until_materialised = await materialised(running_before, total, timeout_s=600)
    server = temporal_server()
    temporal_file = Path(settings.data_dir) / "temporal.db"
    settled_after = (
        await asyncio.to_thread(settle, server.cpu_percent, 15) if server is not None else 0.0
    )
    job_latencies = await lookups(host, port, headers, job_paths)
    floor = await lookups(host, port, headers, ["/api/projects/me"] * samples)
    kept_latencies = await lookups(host, port, headers, job_paths, keep_alive=True)
    kept_floor = await lookups(host, port, headers, ["/api/projects/me"] * samples, keep_alive=True)
    wrong = await check_positions(host, port, headers, sample[:200])

    print(f"queue depth: {total} runs queued into one paused project by {senders} connections")
    print(
        f"enqueue: {total / wall:.0f} runs/s over {wall:.1f} s (slowest whole second: "
        f"{min(full_windows)} runs, fastest: {max(full_windows)}); request p50 "
        f"{percentile([q[1] for q in queued], 0.5) * 1000:.1f} ms, "
        f"p99 {percentile([q[1] for q in queued], 0.99) * 1000:.1f} ms"
    )
    print(f"positions handed out: exactly 1..{total}: {positions == list(range(1, total + 1))}")
    print(
        f"position lookup (GET /api/execution/job/{{id}}, {samples} random runs, one at a time): "
        f"p50 {percentile(job_latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(job_latencies, 0.99) * 1000:.1f} ms; "
        f"{wrong} of 200 sampled positions differ from the queued ones"
    )
    print(
        "  the same lookups on one kept-alive connection: "
        f"p50 {percentile(kept_latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(kept_latencies, 0.99) * 1000:.1f} ms; baseline GET /api/projects/me "
        f"p50 {percentile(kept_floor, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(kept_floor, 0.99) * 1000:.1f} ms"
    )
    print(
        "  the same lookups (new connections) while waiting workflows were still being started: "
        f"p50 {percentile(busy_lookups, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(busy_lookups, 0.99) * 1000:.1f} ms"
    )
    print(
        f"baseline GET /api/projects/me ({samples}, one at a time): "
        f"p50 {percentile(floor, 0.5) * 1000:.1f} ms, p99 {percentile(floor, 0.99) * 1000:.1f} ms"
    )
    print(
        f"queue state: database +{(db_after - db_before) / 2**20:.1f} MiB "
        f"({(db_after - db_before) / total:.0f} bytes per waiting run), API RSS "
        f"{memory_before:.0f} -> {memory_after:.0f} MiB"
    )
    if server is not None and temporal_file.exists():
        print(
            f"Temporal: server RSS {server.memory_info().rss / 2**20:.0f} MiB, its database "
            f"{temporal_file.stat().st_size / 2**20:.0f} MiB (whole file, every run so far)"
        )
    print(f"the lookups above ran once Temporal was idle again, {settled_after:.0f} s later")
    print(
        "waiting workflows started in Temporal: "
        + (
            f"all {total} after {until_materialised:.0f} s more"
            if until_materialised is not None
            else "not all within 600 s"
        )
    )
    print("target: >= 100 runs/s enqueued, position lookup p99 <= 20 ms")

    cancel_started = time.perf_counter()
    failed = await cancel_all(base_url, headers, [job for _f, _l, job, _p in queued])
    print(
        f"clean-up: {total - failed} of {total} waiting runs cancelled in "
        f"{time.perf_counter() - cancel_started:.0f} s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.senders, args.samples, args.url))
