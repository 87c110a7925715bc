"""Burst: N simultaneous POST /api/execution/test/{id}/run against a running service.

Start the service first (scripts/serve), then:  python -m bench.burst [--sizes 200 1000]
[--series N]
Its runs are queued in a paused project, so nothing executes, and cancelled once the API's
memory has been measured 10 s after the last burst.
Beside them, the same bursts through the FastAPI route instead of the fast path
(api/fast_run_route.py).
Baseline, in the same run: N bare start_workflow calls from one Temporal client; and the
framework's floor: the same warm-up and bursts, latency and memory, against bench/floor_app.py's
two apps served like the API.
Every measurement starts from a quiet machine (under QUIET_CPU % of one core for QUIET_S s), so
that Temporal cancelling or starting the previous burst's workflows is not billed to the next.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
from temporalio.client import Client

from bench import rawhttp
from bench.idle import machine_cpu, settle
from core.config import get_settings
from core.temporal import connect
from devstack.allocator import environ_with_jemalloc
from devstack.demo import demo_url
from workflows.messages import RunInput
from workflows.test_run import TestRunWorkflow

FLOOR_PORT = 8011
FLOORS = {
    "a FastAPI route that only answers": "bench.floor_app:app",
    "a bare ASGI app (uvicorn and uvloop alone)": "bench.floor_app:bare_app",
}
"""Served one after the other after the API's bursts; see bench/floor_app.py."""
RUN_PATH = "/api/execution/test/{id}/run"
IDLE_QUEUE = "bench-no-worker"
"""The baseline's workflows go to a queue no worker polls, and are terminated afterwards."""
QUIET_CPU = 25.0
QUIET_S = 3
WARM_UP = 20
"""Requests of a small burst before the starting level is measured."""
SETTLE_S = 10
"""How long after the bursts the API's memory is read again; the same span at rest, before
them, shows how much it moves without requests."""


async def quiet_machine() -> float:
    """Wait until the machine is quiet; return the seconds waited."""
    return await asyncio.to_thread(settle, machine_cpu, QUIET_CPU, QUIET_S)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def api_processes(port: int) -> list[psutil.Process]:
    """The process listening on the API port and its children (uvicorn's workers)."""
    for connection in psutil.net_connections("tcp"):
        if connection.laddr and connection.laddr.port == port and connection.status == "LISTEN":
            listener = psutil.Process(connection.pid)
            return [listener, *listener.children(recursive=True)]
    raise RuntimeError(f"nothing listens on port {port}: start the service first")


def rss_mib(processes: list[psutil.Process]) -> float:
    return sum(process.memory_info().rss for process in processes) / 2**20


Memory = tuple[float, float, float]
"""RSS in MiB before a series of bursts, right after it, and SETTLE_S later."""


async def bursts(
    base_url: str,
    headers: dict,
    test_id: int,
    sizes: list[int],
    processes: list[psutil.Process],
    waits: list[float],
) -> tuple[list[dict], Memory]:
    """One burst of each size, each but the first from a quiet machine (the seconds waited go
    to `waits`), and the processes' memory around them."""
    before = rss_mib(processes)
    rows = []
    for index, size in enumerate(sizes):
        if index:
            waits.append(await quiet_machine())
        rows.append(await burst(base_url, headers, test_id, size))
    peak = rss_mib(processes)
    await asyncio.sleep(SETTLE_S)
    return rows, (before, peak, rss_mib(processes))


async def burst(base_url: str, headers: dict, test_id: int, size: int) -> dict:
    url = httpx.URL(base_url)
    host, port = url.host, url.port or 80

    async def one() -> tuple[float, str | None]:
        started = time.perf_counter()
        try:
            status, body, _ = await rawhttp.request(
                host, port, "POST", RUN_PATH.format(id=test_id), headers
            )
            job = body.get("jobId") if status == 200 and isinstance(body, dict) else None
        except OSError:
            job = None
        return time.perf_counter() - started, job

    started = time.perf_counter()
    results = await asyncio.gather(*(one() for _ in range(size)))
    wall = time.perf_counter() - started
    latencies = [latency for latency, _ in results]
    jobs = [job for _, job in results if job]
    return {
        "size": size,
        "errors": size - len(jobs),
        "unique": len(set(jobs)),
        "p50": percentile(latencies, 0.50),
        "p99": percentile(latencies, 0.99),
        "wall": wall,
        "jobs": jobs,
    }


async def baseline(size: int, definition: dict) -> dict:
    client = await connect(get_settings())

    ids = [f"bench-bare-{uuid.uuid4().hex}" for _ in range(size)]

    async def one(workflow_id: str) -> float:
        started = time.perf_counter()
        await client.start_workflow(
            TestRunWorkflow.run, RunInput(test=definition), id=workflow_id, task_queue=IDLE_QUEUE
        )
        return time.perf_counter() - started

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one(workflow_id) for workflow_id in ids))
    wall = time.perf_counter() - started
    await terminate_all(client, ids)
    return {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99), "wall": wall}


async def terminate_all(client: Client, ids: list[str], at_once: int = 50) -> None:
    """End every workflow the baseline started, by its ID (a visibility query right after the
    starts misses some: they would stay Running on a queue nobody polls)."""
    for first in range(0, len(ids), at_once):
        await asyncio.gather(
            *(
                client.get_workflow_handle(workflow_id).terminate("benchmark baseline")
                for workflow_id in ids[first : first + at_once]
            )
        )


async def answering(base_url: str) -> None:
    """Wait until a server answers the run route (up to 10 s)."""
    url = httpx.URL(base_url)
    for _ in range(100):
        try:
            await rawhttp.request(url.host, url.port or 80, "POST", RUN_PATH.format(id=1), {})
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base_url} does not answer")


async def framework_floor(app: str, sizes: list[int], waits: list[float]) -> tuple[dict, Memory]:
    """The API's warm-up and bursts against a floor app of bench.floor_app, served like the API
    (uvloop, httptools, the same allocator): what the framework alone costs on this machine.
    Returns the largest burst and the server's memory (as `bursts`)."""
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(FLOOR_PORT)]
    command += ["--loop", "uvloop", "--http", "httptools", "--log-level", "warning"]
    server = subprocess.Popen(command, env=environ_with_jemalloc())
    try:
        base_url = f"http://127.0.0.1:{FLOOR_PORT}"
        await answering(base_url)
        await burst(base_url, {}, 1, WARM_UP)
        waits.append(await quiet_machine())
        rows, memory = await bursts(base_url, {}, 1, sizes, [psutil.Process(server.pid)], waits)
        return rows[-1], memory
    finally:
        server.terminate()
        server.wait()


async def paused_project(
    base_url: str, name: str, definition: dict | None = None
) -> tuple[dict[str, str], int, dict]:
    """A new project with a test (by default one step on the demo page), its queue paused so
    that nothing executes and no limit of waiting runs: (the project's headers, the test's id,
    the test's definition)."""
    settings = get_settings()
    admin = (
        os.environ.get("ADMIN_TOKEN")
        or (Path(settings.data_dir) / "admin.token").read_text().strip()
    )
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
        created = await api.post(
            "/api/projects",
            # the admin lets a benchmark project hold more waiting runs than the default limit
            json={"name": f"{name}-{uuid.uuid4().hex[:6]}", "limits": {"max_waiting": 1_000_000}},
            headers={"Authorization": f"Bearer {admin}"},
        )
        created.raise_for_status()
        headers = {"Authorization": f"Bearer {created.json()['token']}"}
        definition = definition or {
            "name": name,
            "start_url": demo_url() + "shop.html",
            "steps": [{"action": "click", "selector": "#buy"}],
        }
        test_id = (await api.post("/api/tests", json=definition, headers=headers)).json()["id"]
        await api.post("/api/execution/queue/pause", headers=headers)
    return headers, test_id, definition


async def cancel_all(base_url: str, headers: dict, jobs: list[str]) -> int:
    """Cancel a benchmark's runs (clean-up, not measured); return how many cancels failed."""
    url = httpx.URL(base_url)
    limit = asyncio.Semaphore(50)

    async def cancel(job: str) -> bool:
        async with limit:
            try:
                status, _, _ = await rawhttp.request(
                    url.host, url.port or 80, "POST", f"/api/execution/job/{job}/cancel", headers
                )
            except OSError:
                return False
            return status == 200

    done = await asyncio.gather(*(cancel(job) for job in jobs))
    return done.count(False)


def print_rows(rows: list[dict]) -> None:
    print(
        f"{'requests':>9}{'errors':>8}{'unique ids':>12}{'p50 s':>8}{'p99 s':>8}"
        f"{'wall s':>8}{'req/s':>8}"
    )
    for row in rows:
        rate = row["size"] / row["wall"]
        print(
            f"{row['size']:>9}{row['errors']:>8}{row['unique']:>12}{row['p50']:>8.3f}"
            f"{row['p99']:>8.3f}{row['wall']:>8.2f}{rate:>8.0f}"
        )


async def main(sizes: list[int], base_url: str, series: int) -> None:
    settings = get_settings()
    process = api_processes(settings.port)
    headers, test_id, definition = await paused_project(base_url, "burst")
    # A small burst first: the starting level includes what the route's first batch builds once
    # (FastAPI's endpoint context, compiled SQL statements, the batch's database connections).
    warm_up = await burst(base_url, headers, test_id, WARM_UP)
    rows = []
    waits = [await quiet_machine()]
    memory_at_rest = rss_mib(process)
    await asyncio.sleep(SETTLE_S)
    memory = []
    for number in range(series):
        if number:
            waits.append(await quiet_machine())
        series_rows, series_memory = await bursts(base_url, headers, test_id, sizes, process, waits)
        rows += series_rows
        memory.append(series_memory)
    # The same bursts through the FastAPI route (a lowercase scheme skips the fast path).
    waits.append(await quiet_machine())
    slow_headers = {"Authorization": "bearer " + headers["Authorization"].split(" ", 1)[1]}
    slow_rows, _ = await bursts(base_url, slow_headers, test_id, sizes, process, waits)
    # Clean-up, after the memory figures: cancelling is a workload of its own.
    jobs = [job for row in [warm_up, *rows, *slow_rows] for job in row["jobs"]]
    failed = await cancel_all(base_url, headers, jobs)
    if failed:
        print(f"warning: {failed} runs of the bursts could not be cancelled")
    waits.append(await quiet_machine())
    bare = await baseline(max(sizes), definition)
    floors = {}
    for name, app in FLOORS.items():
        waits.append(await quiet_machine())
        floors[name] = await framework_floor(app, sizes, waits)

    print(f"burst of simultaneous POST /api/execution/test/{{id}}/run, {base_url}")
    print_rows(rows)
    print("the same bursts through the FastAPI route (`bearer` in lowercase skips the fast path):")
    print_rows(slow_rows)
    print(
        f"baseline: {max(sizes)} bare start_workflow calls from one client: "
        f"p50 {bare['p50']:.3f} s, "
        f"p99 {bare['p99']:.3f} s, wall {bare['wall']:.2f} s"
    )
    for name, (floor, (before, peak, after)) in floors.items():
        print(
            f"framework floor, {name}, the same warm-up and bursts: at {floor['size']} p50 "
            f"{floor['p50']:.3f} s, p99 {floor['p99']:.3f} s, wall {floor['wall']:.2f} s; RSS "
            f"{before:.1f} -> {peak:.1f} -> {after:.1f} MiB ({after - before:+.1f})"
        )
    (start, peak, after), *later = memory
    print(
        f"API RSS: {start:.1f} MiB before (after {WARM_UP} warm-up requests), "
        f"{peak:.1f} MiB after the bursts, {after:.1f} MiB {SETTLE_S} s later "
        f"({after - start:+.1f}); at rest before the bursts "
        f"{memory_at_rest:.1f} -> {start:.1f} MiB in {SETTLE_S} s"
    )
    for number, (before, peak, after) in enumerate(later, start=2):
        print(
            f"API RSS, series {number}: {before:.1f} -> {peak:.1f} -> {after:.1f} MiB "
            f"({after - before:+.1f}; {after - start:+.1f} from the first starting level)"
        )
    print(
        f"each measurement started once the machine had used under {QUIET_CPU:.0f} % of a core "
        f"for {QUIET_S} s; waited " + ", ".join(f"{wait:.0f}" for wait in waits) + " s"
    )
    print(
        f"target: p99 <= 1 s at 1000, no errors, all ids unique; ratio p99/baseline p99: "
        f"{rows[-1]['p99'] / bare['p99']:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--series", type=int, default=1, help="send the bursts this many times, memory each time"
    )
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.url, args.series))
    os._exit(0)  # the Temporal client's threads can abort an orderly interpreter exit
