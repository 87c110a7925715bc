"""Memory per concurrent run: PSS of the worker's Chromium tree with 1, 2, 4 and 8 runs open,
beside a browser-per-run baseline measured in the same script.

Usage: python -m bench.memory
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid

import psutil
from playwright.async_api import async_playwright

from bench.stack import bench_stack
from core.chromium import LAUNCH_ARGS, chromium_executable
from core.queues import WORKFLOW_TASK_QUEUE
from devstack.static_server import StaticServer
from tests.support.pages import PAGES_DIR
from tests.support.processes import chromium_descendants, renderer_count
from tests.support.runs import wait_for_progress
from workflows.messages import RunInput
from workflows.test_run import TestRunWorkflow

CONCURRENCY = (1, 2, 4, 8)
MIB = 1024 * 1024


def chromium_pss_mib() -> float:
    """Proportional set size of every Chromium process below this one."""
    total = 0
    for process in chromium_descendants(os.getpid()):
        with contextlib.suppress(psutil.Error):  # a renderer may exit while we read
            total += process.memory_full_info().pss
    return total / MIB


async def settle() -> None:
    await asyncio.sleep(1.5)


async def browser_per_run(base_url: str) -> dict[int, float]:
    """Baseline: one Chromium launched per run, each with the demo page open."""
    figures = {}
    async with async_playwright() as playwright:
        for count in CONCURRENCY:
            browsers = [
                await playwright.chromium.launch(
                    executable_path=chromium_executable(None), args=LAUNCH_ARGS
                )
                for _ in range(count)
            ]
            for browser in browsers:
                page = await (await browser.new_context()).new_page()
                await page.goto(base_url + "shop.html")
            await settle()
            figures[count] = chromium_pss_mib()
            for browser in browsers:
                await browser.close()
    return figures


def holding_test(base_url: str) -> dict:
    """A run that opens the demo page and then holds it open."""
    return {
        "name": "hold",
        "start_url": base_url,
        "steps": [{"action": "navigate", "value": "shop.html"}, {"action": "wait", "value": 60000}],
    }


async def shared_browser(base_url: str) -> tuple[float, dict[int, float]]:
    """The service: one Chromium per worker, a context per run."""
    figures = {}
    async with bench_stack(max(CONCURRENCY), base_url) as (client, host):
        await host.pool.warm()
        await settle()
        idle = chromium_pss_mib()  # the warm context included
        at_rest = renderer_count(os.getpid())
        for count in CONCURRENCY:
            handles = [
                await client.start_workflow(
                    TestRunWorkflow.run,
                    RunInput(test=holding_test(base_url)),
                    id=f"mem-{uuid.uuid4().hex[:8]}",
                    task_queue=WORKFLOW_TASK_QUEUE,
                )
                for _ in range(count)
            ]
            for handle in handles:
                await wait_for_progress(handle, lambda p: p.current_step == 1)
            await settle()
            figures[count] = chromium_pss_mib()
            for handle in handles:
                await handle.cancel()
            await host.pool.warm()
            while renderer_count(os.getpid()) > at_rest:
                await asyncio.sleep(0.2)
    return idle, figures


async def main() -> None:
    with StaticServer(PAGES_DIR) as base_url:
        baseline = await browser_per_run(base_url)
        idle, shared = await shared_browser(base_url)
    print("Chromium PSS (MiB) by concurrent runs")
    print(f"{'runs':>5}{'browser per run':>17}{'shared browser':>16}{'ratio':>8}")
    for count in CONCURRENCY:
        ratio = shared[count] / baseline[count]
        print(f"{count:>5}{baseline[count]:>17.1f}{shared[count]:>16.1f}{ratio:>8.2f}")
    print(f"shared browser with no run open (its warm context included): {idle:.1f} MiB")
    top = max(CONCURRENCY)
    per_run = (shared[top] - shared[1]) / (top - 1)
    per_browser = (baseline[top] - baseline[1]) / (top - 1)
    print(
        f"per extra concurrent run: shared {per_run:.1f} MiB (target <= 80), "
        f"browser per run {per_browser:.1f} MiB"
    )


if __name__ == "__main__":
    asyncio.run(main())
