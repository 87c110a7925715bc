"""Throughput: 30 short tests through the service against plain Playwright, same machine.

Start the service first, with as many sessions as measured (for example
`WORKER_MAX_SESSIONS=2 scripts/serve`), then:  python -m bench.throughput --sessions 2

A project with max_parallel = sessions queues 30 tests of 3 to 6 steps on the demo site while
paused, then resumes; the service's time runs from the resume to the last run's stored end
(the script polls only twice a second, so that its polling does not load the API). Beside
it, in the same script, plain Playwright runs the same 30 tests with `sessions` contexts at a
time in one Chromium. Machine CPU is every process's CPU time on this machine over each
interval (the service's idle processes included, Temporal's server too), divided by the runs;
the service's share is also shown per process (bench/process_cpu.py).

Two lines between them say where the gap lies: the service's own browser path alone (its
BrowserPool, with the egress gate and the trace, and `perform`, driven from this script with
no Temporal), and Temporal's floor (bench/temporal_floor.py).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from playwright.async_api import Page, async_playwright, expect

from bench import process_cpu
from bench.burst import paused_project
from bench.temporal_floor import run_floor
from bench.workload import TWENTY_STEPS
from browser.actions import StepContext, perform
from browser.pool import BrowserPool
from core.chromium import LAUNCH_ARGS, chromium_executable
from core.definition import Step
from core.egress import EgressPolicy
from core.run_state import FINAL_STATES
from devstack.demo import allow_demo_site, demo_url

RUNS = 30
POLL_S = 0.5
STEPS_PER_TEST = (3, 4, 5, 6)


def short_tests(base_url: str, trace: str = "on-failure") -> list[dict]:
    """Four tests of 3 to 6 steps from the demo shop, used round-robin."""
    return [
        {
            "name": f"short {count}",
            "start_url": base_url + "shop.html",
            "trace": trace,
            "steps": TWENTY_STEPS[1 : count + 1],
        }
        for count in STEPS_PER_TEST
    ]


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float

    def line(self, label: str) -> str:
        return (
            f"{label:30}{self.seconds:8.1f} s{RUNS / self.seconds:8.2f} runs/s"
            f"{self.cpu_seconds / RUNS:9.2f} CPU s/run"
        )


def as_utc(stamp: str) -> float:
    """A stored time (naive on SQLite, meaning UTC) as seconds since the epoch."""
    moment = datetime.fromisoformat(stamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def machine_cpu_seconds() -> float:
    """CPU time used by every process on this machine since boot (all cores)."""
    times = psutil.cpu_times()
    return (
        times.user
        + times.nice
        + times.system
        + getattr(times, "irq", 0.0)
        + getattr(times, "softirq", 0.0)
    )


async def plain_step(page: Page, step: dict) -> None:
    """A step as a person would write it with Playwright directly."""
    action, selector, value = step["action"], step.get("selector", ""), step.get("value", "")
    if action == "click":
        await page.click(selector)
    elif action == "assert":
        await expect(page.locator(selector)).to_contain_text(value)
    elif action == "doubleclick":
        await page.dblclick(selector)
    elif action == "hover":
        await page.hover(selector)
    elif action == "type":
        await page.fill(selector, value)
    else:
        raise ValueError(f"no plain version of {action}")


def series(tests: list[dict]) -> list[dict]:
    """The RUNS tests in the order both sides run them."""
    return [tests[index % len(tests)] for index in range(RUNS)]


async def measure(work: Awaitable[object]) -> Measured:
    """Wall time and machine CPU of one piece of work."""
    cpu, started = machine_cpu_seconds(), time.perf_counter()
    await work
    return Measured(time.perf_counter() - started, machine_cpu_seconds() - cpu)


async def run_plain(tests: list[dict], sessions: int) -> Measured:
    """The same tests, `sessions` contexts at a time in one Chromium."""
    pending = series(tests)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )

        async def runner() -> None:
            while pending:
                test = pending.pop()
                context = await browser.new_context()
                page = await context.new_page()
                await page.goto(test["start_url"])
                for step in test["steps"]:
                    await plain_step(page, step)
                await context.close()

        measured = await measure(asyncio.gather(*(runner() for _ in range(sessions))))
        await browser.close()
    return measured


async def run_browser_path(tests: list[dict], sessions: int) -> Measured:
    """The same tests through the service's own BrowserPool and `perform` (a warm context,
    the egress gate, the trace as the test asks), `sessions` at a time, with no Temporal."""
    pending = series(tests)
    pool = BrowserPool(None, egress=EgressPolicy.from_setting(allow_demo_site("")))
    await pool.start()
    await pool.warm()
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        scratch = Path(folder)

        async def runner() -> None:
            while pending:
                test = pending.pop()
                session = await pool.open("bench", test["trace"], 600)
                await pool.trace_from_now(session)
                steps = [Step(action="navigate", value=test["start_url"])]
                steps += [Step.model_validate(step) for step in test["steps"]]
                where = StepContext(test["start_url"], 10_000, scratch, "step", scratch)
                for step in steps:
                    await pool.while_open(session, perform(session.page, step, where))
                await pool.close(session.session_id)

        measured = await measure(asyncio.gather(*(runner() for _ in range(sessions))))
    await pool.stop()
    return measured


async def run_temporal_floor(tests: list[dict], sessions: int, address: str) -> Measured:
    """The same tests as bare Temporal workflows, a local activity per step."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        measured = await measure(run_floor(address, browser, plain_step, series(tests), sessions))
        await browser.close()
    return measured


async def run_service(base_url: str, tests: list[dict], sessions: int) -> Measured:
    """The tests queued in a paused project with max_parallel = sessions, then resumed."""
    headers, _, _ = await paused_project(base_url, "throughput", tests[0])
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
        await api.patch("/api/projects/me", json={"max_parallel": sessions}, headers=headers)
        ids = [(await api.post("/api/tests", json=t, headers=headers)).json()["id"] for t in tests]
        for index in range(RUNS):
            queued = await api.post(
                f"/api/execution/test/{ids[index % len(ids)]}/run", headers=headers
            )
            queued.raise_for_status()
        await asyncio.sleep(2)  # the queueing's own work is over before the clock starts
        parts = process_cpu.snapshot()
        cpu, resumed = machine_cpu_seconds(), time.time()
        await api.post("/api/execution/queue/resume", headers=headers)
        while True:  # a slow poll: the measurement must not load the API it measures
            await asyncio.sleep(POLL_S)
            counts = (await api.get("/api/execution/queue/status", headers=headers)).json()
            queue = counts["queue"]
            if sum(queue[state] for state in FINAL_STATES) >= RUNS:
                break
        cpu_used = machine_cpu_seconds() - cpu
        runs = (await api.get("/api/runs", params={"limit": RUNS}, headers=headers)).json()
        last_end = max(as_utc(run["finishedOn"]) for run in runs)
        measured = Measured(last_end - resumed, cpu_used)
        print("where the service's CPU went:")
        print(process_cpu.report(process_cpu.used_between(parts, process_cpu.snapshot()), RUNS))
        if not_passed := sum(queue[state] for state in FINAL_STATES if state != "completed"):
            raise SystemExit(f"{not_passed} runs did not pass")
    return measured


async def main(sessions: int, base_url: str, trace: str, temporal: str) -> None:
    tests = short_tests(demo_url(), trace)
    await run_plain(tests[:1], 1)  # warm-up: Chromium's files in the page cache
    plain = await run_plain(tests, sessions)
    browser_path = await run_browser_path(tests, sessions)
    floor = await run_temporal_floor(tests, sessions, temporal)
    service = await run_service(base_url, tests, sessions)
    print(
        f"throughput, {RUNS} tests of 3 to 6 steps, {sessions} sessions, trace {trace}, {base_url}"
    )
    print(plain.line("plain Playwright (baseline)"))
    print(browser_path.line("the service's browser path"))
    print(floor.line("bare Temporal (floor)"))
    print(service.line("through the service"))
    compared = (("the browser path", browser_path), ("the floor", floor), ("the service", service))
    for label, measured in compared:
        speed = plain.seconds / measured.seconds
        cpu = measured.cpu_seconds / plain.cpu_seconds
        print(f"{label}: runs per second {speed:.2f}x, machine CPU per run {cpu:.2f}x the baseline")
    print("targets: runs per second >= 0.9x, machine CPU per run <= 1.25x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--trace", default="on-failure", choices=["on-failure", "off"])
    parser.add_argument("--temporal", default="127.0.0.1:7233", help="the service's Temporal")
    args = parser.parse_args()
    asyncio.run(main(args.sessions, args.url, args.trace, args.temporal))
