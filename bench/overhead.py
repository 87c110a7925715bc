"""Orchestration overhead: one 20-step test as a plain Playwright script and through the service.

Usage: python -m bench.overhead [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from playwright.async_api import async_playwright

from bench.stack import bench_stack
from bench.workload import TWENTY_STEPS, plain_playwright, twenty_step_test
from core.chromium import LAUNCH_ARGS, chromium_executable
from core.queues import WORKFLOW_TASK_QUEUE
from devstack.static_server import StaticServer
from tests.support.pages import PAGES_DIR
from workflows.messages import RunInput
from workflows.test_run import TestRunWorkflow


async def time_plain(base_url: str, rounds: int) -> list[float]:
    """Wall time of the plain script per round: fresh context, 20 steps, close."""
    times = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        for _ in range(rounds):
            started = time.perf_counter()
            context = await browser.new_context()
            page = await context.new_page()
            await plain_playwright(page, base_url)
            await context.close()
            times.append(time.perf_counter() - started)
        await browser.close()
    return times


async def time_service(client, base_url: str, rounds: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Wall time per round from start_workflow to the workflow's result."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        result = await client.execute_workflow(
            TestRunWorkflow.run,
            RunInput(test=twenty_step_test(base_url)),
            id=f"bench-{uuid.uuid4().hex[:10]}",
            task_queue=WORKFLOW_TASK_QUEUE,
        )
        times.append(time.perf_counter() - started)
        assert result.state == "completed", result.error
    return times


async def main(rounds: int) -> None:
    with StaticServer(PAGES_DIR) as base_url:
        async with bench_stack(max_sessions=2) as (client, _host):
            await time_service(client, base_url, 1)  # warm-up: first context, caches
            await time_plain(base_url, 1)
            plain, service = [], []
            for _ in range(rounds):  # interleaved, so that drift hits both alike
                plain += await time_plain(base_url, 1)
                service += await time_service(client, base_url, 1)
    plain_s, service_s = statistics.median(plain), statistics.median(service)
    activities = len(TWENTY_STEPS) + 2
    print(f"orchestration overhead, {len(TWENTY_STEPS)} steps, {rounds} rounds, medians")
    print(f"{'':28}{'wall s':>9}{'min s':>9}{'max s':>9}")
    print(f"{'plain Playwright (baseline)':28}{plain_s:9.3f}{min(plain):9.3f}{max(plain):9.3f}")
    print(f"{'through the service':28}{service_s:9.3f}{min(service):9.3f}{max(service):9.3f}")
    print(f"ratio service/baseline: {service_s / plain_s:.2f} (target <= 1.5)")
    extra_ms = (service_s - plain_s) * 1000
    print(
        f"overhead {extra_ms:.0f} ms over {activities} activities: "
        f"{extra_ms / activities:.1f} ms per activity round trip"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    asyncio.run(main(parser.parse_args().rounds))
