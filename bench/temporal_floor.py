"""Temporal's own floor for the throughput benchmark: the same tests, each a bare workflow whose
navigation and steps are local activities on one Chromium, with nothing of the service around
them (no queue, no database, no codec, no live events, no egress gate, no child workflow).

What a workflow per run and a local activity per step cost on this machine's Temporal server and
Python SDK is the least any design with that shape can spend; the service is measured beside it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from playwright.async_api import Browser, BrowserContext, Page

STEP_TIMEOUT = timedelta(seconds=30)


@workflow.defn(name="ThroughputFloor")
class FloorWorkflow:
    """One test: open a context, each step as a local activity, close the context."""

    @workflow.run
    async def run(self, test: dict[str, Any]) -> None:
        await workflow.execute_local_activity(
            "floor_open", test["start_url"], start_to_close_timeout=STEP_TIMEOUT
        )
        for step in test["steps"]:
            await workflow.execute_local_activity(
                "floor_step", step, start_to_close_timeout=STEP_TIMEOUT
            )
        await workflow.execute_local_activity("floor_close", start_to_close_timeout=STEP_TIMEOUT)


def _run() -> str:
    """The workflow the running local activity belongs to."""
    return str(activity.info().workflow_id)


class FloorActivities:
    """A context and page per workflow, in one shared Chromium."""

    def __init__(self, browser: Browser, play: Any) -> None:
        self._browser = browser
        self._play = play  # (page, step) -> awaitable: the plain script's step
        self._pages: dict[str, tuple[BrowserContext, Page]] = {}

    @activity.defn(name="floor_open")
    async def open(self, url: str) -> None:
        context = await self._browser.new_context()
        page = await context.new_page()
        await page.goto(url)
        self._pages[_run()] = (context, page)

    @activity.defn(name="floor_step")
    async def step(self, step: dict[str, Any]) -> None:
        _, page = self._pages[_run()]
        await self._play(page, step)

    @activity.defn(name="floor_close")
    async def close(self) -> None:
        context, _ = self._pages.pop(_run())
        await context.close()


async def run_floor(
    address: str, browser: Browser, play: Any, tests: list[dict[str, Any]], sessions: int
) -> None:
    """Every test as a FloorWorkflow, `sessions` at a time, on a task queue of its own."""
    client = await Client.connect(address)
    queue = f"throughput-floor-{uuid.uuid4().hex[:8]}"
    steps = FloorActivities(browser, play)
    pending = list(tests)

    async def runner() -> None:
        while pending:
            test = pending.pop()
            await client.execute_workflow(
                FloorWorkflow.run, test, id=f"{queue}-{len(pending)}", task_queue=queue
            )

    async with Worker(
        client,
        task_queue=queue,
        workflows=[FloorWorkflow],
        activities=[steps.open, steps.step, steps.close],
    ):
        await asyncio.gather(*(runner() for _ in range(sessions)))
