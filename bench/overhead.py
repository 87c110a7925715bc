"""Orchestration overhead: one 20-step test as a plain Playwright script and through the service.

Usage: python -m bench.overhead [--rounds N] [--trace MODE]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import Counter

from playwright.async_api import async_playwright
from temporalio.api.enums.v1 import EventType

from bench.stack import bench_stack
from bench.workload import (
    TWENTY_STEPS,
    plain_playwright,
    plain_playwright_expecting,
    twenty_step_test,
)
from core.chromium import LAUNCH_ARGS, chromium_executable
from core.queues import WORKFLOW_TASK_QUEUE
from core.run_ids import session_workflow_id
from devstack.static_server import StaticServer
from tests.support.pages import PAGES_DIR
from tests.support.runs import local_activity_span
from workflows.messages import RunInput
from workflows.test_run import TestRunWorkflow


async def time_plain(base_url: str, rounds: int, expectations: bool = False) -> list[float]:
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
            script = plain_playwright_expecting if expectations else plain_playwright
            await script(page, base_url)
            await context.close()
            times.append(time.perf_counter() - started)
        await browser.close()
    return times


async def time_service(  # type: ignore[no-untyped-def]
    client,
    base_url: str,
    rounds: int,
    breakdown: Counter[str],
    trace: str,
    expectations: bool = False,
) -> list[float]:
    """Wall time per round from start_workflow to the workflow's result."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        handle = await client.start_workflow(
            TestRunWorkflow.run,
            RunInput(test={**twenty_step_test(base_url, expectations), "trace": trace}),
            id=f"bench-{uuid.uuid4().hex[:10]}",
            task_queue=WORKFLOW_TASK_QUEUE,
        )
        result = await handle.result()
        times.append(time.perf_counter() - started)
        assert result.state == "completed", result.error
        breakdown.update(await time_by_phase(handle))
        session = client.get_workflow_handle(session_workflow_id(handle.id, 1))
        breakdown.update(await time_by_phase(session, prefix="  in it: "))
    return times


async def time_by_phase(handle, prefix: str = "") -> Counter[str]:  # type: ignore[no-untyped-def]
    """Milliseconds of one workflow's history spent in each phase, from its event times and
    its local activity markers. The watch activity runs beside the steps and is left out."""
    spent: Counter[str] = Counter()  # float milliseconds
    last: dict[str, float] = {}
    names: dict[int, str] = {}
    time_of: dict[int, float] = {}
    async for event in handle.fetch_history_events():
        kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        at = event.event_time.ToNanoseconds() / 1e6
        if span := local_activity_span(event):
            finished = span.closed * 1000  # the marker's other times are workflow time
            took = finished - last.get("LOCAL_ACTIVITY", last["WORKFLOW_TASK_STARTED"])
            spent[f"{prefix}local activities, back to back"] += took  # type: ignore[assignment]
            last["LOCAL_ACTIVITY"] = finished
        elif kind == "CHILD_WORKFLOW_EXECUTION_STARTED":
            spent["session workflow start"] += at - last["START_CHILD_WORKFLOW_EXECUTION_INITIATED"]
        elif kind == "CHILD_WORKFLOW_EXECUTION_COMPLETED":
            spent["session workflow (steps, on the worker)"] += (
                at - last["CHILD_WORKFLOW_EXECUTION_STARTED"]
            )
        elif kind == "ACTIVITY_TASK_SCHEDULED":
            names[event.event_id] = (
                event.activity_task_scheduled_event_attributes.activity_type.name
            )
        elif kind == "ACTIVITY_TASK_STARTED":
            scheduled = event.activity_task_started_event_attributes.scheduled_event_id
            spent["activity dispatch (scheduled -> started)"] += at - time_of[scheduled]
        elif kind == "ACTIVITY_TASK_COMPLETED":
            completed = event.activity_task_completed_event_attributes
            took = at - time_of[completed.started_event_id]
            spent[f"{names[completed.scheduled_event_id]} activities"] += took
        elif kind == "WORKFLOW_TASK_STARTED":
            spent[f"{prefix}workflow task dispatch"] += at - last["WORKFLOW_TASK_SCHEDULED"]
        elif kind == "WORKFLOW_TASK_COMPLETED":
            spent[f"{prefix}workflow task processing"] += at - last["WORKFLOW_TASK_STARTED"]
        if kind in ("ACTIVITY_TASK_SCHEDULED", "ACTIVITY_TASK_STARTED"):
            time_of[event.event_id] = at
        last[kind] = at
    return spent


async def main(rounds: int, trace: str, expectations: bool) -> None:
    with StaticServer(PAGES_DIR) as base_url:
        async with bench_stack(2, base_url) as (client, _host):
            await time_service(
                client, base_url, 1, Counter(), trace, expectations
            )  # warm-up: first context, caches
            await time_plain(base_url, 1, expectations)
            plain, service, breakdown = [], [], Counter[str]()
            for _ in range(rounds):  # interleaved, so that drift hits both alike
                plain += await time_plain(base_url, 1, expectations)
                service += await time_service(client, base_url, 1, breakdown, trace, expectations)
    plain_s, service_s = statistics.median(plain), statistics.median(service)
    written = ", assertions as expectations" if expectations else ""
    print(
        f"orchestration overhead, {len(TWENTY_STEPS)} steps{written}, {rounds} rounds, "
        f"trace {trace}"
    )
    print(f"{'':28}{'wall s':>9}{'min s':>9}{'max s':>9}")
    print(f"{'plain Playwright (baseline)':28}{plain_s:9.3f}{min(plain):9.3f}{max(plain):9.3f}")
    print(f"{'through the service':28}{service_s:9.3f}{min(service):9.3f}{max(service):9.3f}")
    print(f"ratio service/baseline: {service_s / plain_s:.2f} (target <= 1.2)")
    extra_ms = (service_s - plain_s) * 1000
    print(f"overhead {extra_ms:.0f} ms: {extra_ms / len(TWENTY_STEPS):.1f} ms per step")
    print("where a service run's time goes (mean ms per run, from the workflow histories):")
    for phase, total in sorted(breakdown.items(), key=lambda item: -item[1]):
        print(f"  {phase:44}{total / rounds:8.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument(
        "--trace", default="on-failure", choices=["on-failure", "on-failure-with-snapshots", "off"]
    )
    parser.add_argument(
        "--expectations",
        action="store_true",
        help="the 20 steps with their assertions written as expectations (expect, not, match)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.trace, args.expectations))
