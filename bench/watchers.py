"""Live fan-out: N Server-Sent-Event watchers of one running job, against a running service.

Start the service first (scripts/serve), then:  python -m bench.watchers [--sizes 1 100 1000]
For each size, one run of a ten-step test (each step holds 1 s) is queued in a paused project,
N watchers open its event stream at once, and once every one of them has its `queued` event
the queue is resumed. Reported: events each watcher got (all must get the whole run), the
delivery delay of the run's later events from their creation in the worker to their receipt
(p50, p99), and the API's memory. The run with one watcher is the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime

import httpx

from bench import rawhttp
from bench.burst import api_processes, paused_project, percentile, rss_mib
from core.config import get_settings
from devstack.demo import demo_url

STEPS = 10


async def watch(
    base_url: str, headers: dict, job_id: str, connected: list[int]
) -> list[tuple[str, float]]:
    """(event, delay in seconds) of every event of the job, to its end."""
    url = httpx.URL(base_url)
    got = []
    path = f"/api/execution/job/{job_id}/events"
    async for event, data, received in rawhttp.sse_events(url.host, url.port or 80, path, headers):
        if event == "queued":
            connected[0] += 1
        if "at" in data:
            created = datetime.fromisoformat(data["at"]).timestamp()
            got.append((event, received - created))
    return got


async def one_size(base_url: str, headers: dict, test_id: int, size: int) -> dict:
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80
    status, body, _ = await rawhttp.request(
        host, port, "POST", f"/api/execution/test/{test_id}/run", headers
    )
    assert status == 200, body
    started = time.perf_counter()
    connected = [0]
    watchers = asyncio.gather(
        *(watch(base_url, headers, body["jobId"], connected) for _ in range(size))
    )
    while connected[0] < size:
        await asyncio.sleep(0.05)
    connect_s = time.perf_counter() - started
    await rawhttp.request(host, port, "POST", "/api/execution/queue/resume", headers)
    seen = await watchers
    await rawhttp.request(host, port, "POST", "/api/execution/queue/pause", headers)
    kinds = [[event for event, _ in events] for events in seen]
    complete = [k for k in kinds if k and k[-1] == "completed" and k == kinds[0]]
    live = [delay for events in seen for event, delay in events if event != "queued"]
    return {
        "size": size,
        "events": len(kinds[0]),
        "complete": len(complete),
        "p50": percentile(live, 0.5) * 1000,
        "p99": percentile(live, 0.99) * 1000,
        "connect": connect_s,
    }


async def main(sizes: list[int], base_url: str) -> None:
    settings = get_settings()
    processes = api_processes(settings.port)
    definition = {
        "name": "watched",
        "start_url": demo_url() + "shop.html",
        "steps": [{"action": "wait", "value": 1000} for _ in range(STEPS)],
    }
    headers, test_id, _ = await paused_project(base_url, "watchers", definition)
    print(f"API RSS before: {rss_mib(processes):.0f} MiB")
    for size in sizes:
        result = await one_size(base_url, headers, test_id, size)
        print(
            f"{result['size']:>5} watchers (all connected in {result['connect']:.1f} s): "
            f"{result['complete']}/{result['size']} got all {result['events']} events; "
            f"delivery delay p50 {result['p50']:.1f} ms, "
            f"p99 {result['p99']:.1f} ms; API RSS {rss_mib(processes):.0f} MiB"
        )
    await asyncio.sleep(5)
    print(f"API RSS 5 s after: {rss_mib(processes):.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.base_url))
