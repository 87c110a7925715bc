"""A noisy neighbour on one worker: a page flooding the console (500 messages of 2 KB per tick
for 8 s) in one browser context, a quiet run in another context of the same pool, and the
worker's memory (its Playwright driver and its Python) before and after the flood.

First, both runs go through the service's browser path (`BrowserPool` with its egress gate and
console capture, and `perform`), in one process like a worker's. Printed: the quiet run's
duration alone and beside the flood (target: within 20 %), and the driver's and the Python
process's RSS before the flood, after it, and after a second one (target: growth <= 100 MiB).
Then the same through the whole service (TestRun workflows on a dev server and a worker with
2 slots): a quiet run's start delay and duration, alone and beside the flood run.

With `--worker`, the flood comes from a Web Worker of the page (which the page's console
budget does not reach; the worker's capture budget does).

With `--recycle-mib N`, the pool replaces its driver once it passes N MiB (the service's
DRIVER_RECYCLE_MIB, 600 by default), so the figures show a replacement under load.

Usage: python -m bench.noisy_neighbour [--rounds 3] [--worker] [--recycle-mib 600]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psutil
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from bench.stack import bench_stack
from browser.actions import StepContext, perform
from browser.console_capture import ConsoleFlood
from browser.pool import BrowserPool
from core.definition import Step
from core.egress import EgressPolicy
from core.queues import WORKFLOW_TASK_QUEUE
from core.run_result import RunProgress
from devstack.static_server import StaticServer
from tests.support.pages import PAGES_DIR
from workflows.messages import RunInput
from workflows.test_run import TestRunWorkflow

MIB = 1024 * 1024
FLOOD_S = 8
FLOOD_PAGE = """<html><body><p id="state">flooding</p><script>
const line = "x".repeat(2000);
const end = Date.now() + {ms};
function tick() {{
  for (let i = 0; i < 500; i++) console.log(line, i);
  if (Date.now() < end) setTimeout(tick, 0);
  else document.getElementById("state").textContent = "done";
}}
tick();
</script></body></html>"""
WORKER_FLOOD_PAGE = """<html><body><p id="state">flooding</p><script>
const code = `
const line = "x".repeat(2000);
const end = Date.now() + {ms};
function tick() {{
  for (let i = 0; i < 500; i++) console.log(line, i);
  if (Date.now() < end) setTimeout(tick, 0); else postMessage("done");
}}
tick();`;
const worker = new Worker(URL.createObjectURL(new Blob([code])));
worker.onmessage = () => document.getElementById("state").textContent = "done";
</script></body></html>"""
QUIET_STEPS = [
    {"action": "click", "selector": "#buy"},
    {"action": "assert", "selector": "#total", "value": "42"},
    {"action": "type", "selector": "#email", "value": "a@b.c"},
    {"action": "assert", "selector": "#echo", "value": "a@b.c"},
    {"action": "select", "selector": "#color", "value": "g"},
    {"action": "hover", "selector": "#hover"},
    {"action": "check", "selector": "#news"},
    {"action": "scroll", "selector": "#bottom"},
] * 4


def driver_rss_mib() -> float:
    """RSS of the Playwright driver (node) below this process."""
    me = psutil.Process()
    total = 0
    for child in me.children(recursive=False):
        if any(part.endswith("/driver/package/cli.js") for part in child.cmdline()):
            total += child.memory_info().rss
    return total / MIB


def python_rss_mib() -> float:
    return psutil.Process().memory_info().rss / MIB


async def run_steps(pool: BrowserPool, url: str, steps: list[dict], scratch: Path) -> float:
    """Open a context, run the steps, close it; seconds from open to close."""
    started = time.perf_counter()
    session = await pool.open("bench", "off", 600)
    where = StepContext(url, 30_000, scratch, "step", scratch)
    for step in [{"action": "navigate", "value": url}, *steps]:
        await pool.while_open(session, perform(session.page, Step.model_validate(step), where))
    await pool.close(session.session_id)
    return time.perf_counter() - started


async def flood(pool: BrowserPool, url: str, scratch: Path) -> float:
    """The flooding run's seconds, to its end or until the pool stops it (ConsoleFlood)."""
    wait = {"action": "assert", "selector": "#state", "value": "done", "timeout_ms": 60_000}
    started = time.perf_counter()
    try:
        await run_steps(pool, url, [wait], scratch)
    except ConsoleFlood:
        for session in list(pool._sessions.values()):  # as the run's teardown would
            if session.console.flood is not None:
                await pool.close(session.session_id)
    return time.perf_counter() - started


async def through_the_service(rounds: int, flood_page: str) -> None:
    """The same flood as a run of one project and quiet runs of another, through TestRun
    workflows on a real dev server and worker (2 slots): each quiet run's start delay (from
    its workflow's start to its context's opening) and duration, alone and beside the flood."""
    with tempfile.TemporaryDirectory(prefix="noisy-site-") as folder:
        site = Path(folder)
        shutil.copy(PAGES_DIR / "shop.html", site / "shop.html")
        (site / "flood.html").write_text(flood_page.format(ms=FLOOD_S * 1000))
        with StaticServer(site) as url:
            async with bench_stack(2, url) as (client, host):
                await host.pool.warm()
                quiet_test = {
                    "name": "quiet",
                    "start_url": url + "shop.html",
                    "steps": QUIET_STEPS,
                }
                flood_test = {
                    "name": "flood",
                    "start_url": url + "flood.html",
                    "step_timeout_ms": 60_000,
                    "steps": [{"action": "assert", "selector": "#state", "value": "done"}],
                }
                await quiet_run(client, quiet_test)  # warm up
                alone = [await quiet_run(client, quiet_test) for _ in range(rounds)]
                flooding = asyncio.ensure_future(quiet_run(client, flood_test, ends="any"))
                await asyncio.sleep(0.3)
                beside: list[tuple[float, float]] = []
                while not flooding.done() or not beside:
                    beside.append(await quiet_run(client, quiet_test))
                flood_delay, flood_s = await flooding
    print(f"service, the flooding run: ended after {flood_s:.2f} s")
    for label, figures in (("alone", alone), ("beside the flood", beside)):
        delay = statistics.median(f[0] for f in figures)
        duration = statistics.median(f[1] for f in figures)
        print(
            f"service, quiet run {label}: start delay median {delay * 1000:.0f} ms, "
            f"duration median {duration:.2f} s over {len(figures)} runs"
        )
    ratio = statistics.median(f[1] for f in beside) / statistics.median(f[1] for f in alone)
    print(f"service, duration beside the flood / alone: {ratio:.2f}x (target <= 1.20x)")


async def quiet_run(client: Client, test: dict, ends: str = "completed") -> tuple[float, float]:
    """A run's start delay and duration in seconds (from its stored times); it must complete
    unless `ends` is "any" (a flooding run is stopped)."""
    asked = datetime.now(UTC)
    handle = await client.start_workflow(
        TestRunWorkflow.run,
        RunInput(test=test),
        id=f"noisy-{uuid.uuid4().hex[:8]}",
        task_queue=WORKFLOW_TASK_QUEUE,
    )
    try:
        result = await handle.result()
    except WorkflowFailureError as failure:
        assert isinstance(failure.cause, ApplicationError)
        result = RunProgress.model_validate(failure.cause.details[0])
    assert ends == "any" or result.state == "completed", result.error
    if ends == "any":
        print(f"service, the flooding run: {result.state}: {result.error}")
    assert result.started_at is not None and result.finished_at is not None
    delay = (result.started_at - asked).total_seconds()
    return delay, (result.finished_at - result.started_at).total_seconds()


async def main(rounds: int, from_worker: bool, recycle_mib: float) -> None:
    with tempfile.TemporaryDirectory(prefix="noisy-") as folder:
        scratch = Path(folder)
        page = WORKER_FLOOD_PAGE if from_worker else FLOOD_PAGE
        (scratch / "flood.html").write_text(page.format(ms=FLOOD_S * 1000))
        with StaticServer(PAGES_DIR) as pages, StaticServer(scratch) as own:
            hosts = f"{pages.split('/')[2]},{own.split('/')[2]}"
            policy = EgressPolicy.from_setting(hosts)
            pool = BrowserPool(None, egress=policy, driver_limit_mib=recycle_mib)
            await pool.start()
            await pool.warm()
            quiet_url, flood_url = pages + "shop.html", own + "flood.html"
            await run_steps(pool, quiet_url, QUIET_STEPS, scratch)  # warm up
            alone = [await run_steps(pool, quiet_url, QUIET_STEPS, scratch) for _ in range(rounds)]
            gc.collect()
            await asyncio.sleep(2)
            before = driver_rss_mib(), python_rss_mib()
            beside: list[float] = []
            after: list[tuple[float, float]] = []
            for _ in range(2):
                flooding = asyncio.ensure_future(flood(pool, flood_url, scratch))
                await asyncio.sleep(0.3)  # the flood is under way
                while not flooding.done() or not beside:
                    beside.append(await run_steps(pool, quiet_url, QUIET_STEPS, scratch))
                flood_s = await flooding
                gc.collect()
                await asyncio.sleep(2)
                after.append((driver_rss_mib(), python_rss_mib()))
            recycled = pool.recycled
            await pool.stop()
    quiet, noisy = statistics.median(alone), statistics.median(beside)
    print(f"flood from {'a Web Worker' if from_worker else 'the page'}")
    print(f"quiet run alone: median {quiet:.2f} s over {len(alone)} runs")
    print(
        f"quiet run beside the flood: median {noisy:.2f} s over {len(beside)} runs "
        f"({noisy / quiet:.2f}x; target <= 1.20x); the flood run took {flood_s:.1f} s"
    )
    print(f"before the floods: driver {before[0]:.0f} MiB, worker's Python {before[1]:.0f} MiB")
    for number, (driver, python) in enumerate(after, 1):
        print(
            f"after flood {number}: driver {driver:.0f} MiB ({driver - before[0]:+.0f}), "
            f"worker's Python {python:.0f} MiB ({python - before[1]:+.0f}); target <= +100 each"
        )
    print(f"drivers replaced (limit {recycle_mib:.0f} MiB): {recycled}")
    await through_the_service(rounds, WORKER_FLOOD_PAGE if from_worker else FLOOD_PAGE)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", action="store_true", help="flood from a Web Worker")
    parser.add_argument(
        "--recycle-mib", type=float, default=600.0, help="the driver's limit (DRIVER_RECYCLE_MIB)"
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.worker, arguments.recycle_mib))
