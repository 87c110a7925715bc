"""Dashboard: the queue page of a project with N waiting runs (default 10,000), and how fast an
event reaches the page's DOM with 1 and with 50 dashboards open.

Start the service first (scripts/serve), then:  python -m bench.dashboard [--runs 10000]
The project is paused, so its runs wait; they are cancelled afterwards.
Baselines, in the same run: GET /api/execution/queue/status of the same project (the API's
JSON answer about the same queue), and the moment each page's EventSource received the event
(the stream's own delay, before the page renders anything).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx
from playwright.async_api import Browser, Page, async_playwright

from bench.burst import cancel_all, paused_project, percentile
from bench.queue_depth import enqueue
from core.chromium import LAUNCH_ARGS, chromium_executable

FILTERS = {
    "runs: every run": "",
    "runs: by a part of the test's name": "name=dashb",
    "runs: by state": "state=waiting",
    "runs: by name and state": "name=dashb&state=failed",
}
"""The runs page's searches, each timed on the server like the queue page."""

WATCH_EVENTS = """() => {
  window.__received = [];
  window.__rendered = [];
  const region = document.querySelector("#live");
  new MutationObserver(() => window.__rendered.push(Date.now()))
    .observe(region, { attributes: true, attributeFilter: ["data-renders"] });
  const probe = new EventSource(region.dataset.events);
  probe.addEventListener("queued", () => window.__received.push(Date.now()));
}"""


async def signed_in(browser: Browser, base_url: str, token: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base_url}/ui/")
    await page.fill("#token", token)
    await page.click("button:has-text('Sign in')")
    await page.wait_for_selector("#live[data-connected='true']")
    return page


async def server_times(
    client: httpx.AsyncClient, path: str, headers: dict[str, str], samples: int
) -> list[float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = await client.get(path, headers=headers)
        answer.raise_for_status()
        times.append(time.perf_counter() - started)
    return times


async def first_render_ms(page: Page, url: str) -> float:
    """Navigation start to the first contentful paint of the queue page."""
    await page.goto(url)
    return float(
        await page.evaluate(
            """() => new Promise(resolve => {
              const paint = performance.getEntriesByName("first-contentful-paint")[0];
              if (paint) return resolve(paint.startTime);
              new PerformanceObserver(list => resolve(list.getEntries()[0].startTime))
                .observe({ type: "paint", buffered: true });
            })"""
        )
    )


async def event_delays(
    pages: list[Page], client: httpx.AsyncClient, headers: dict, test_id: int, events: int
) -> tuple[list[float], list[float], list[str]]:
    """Queue `events` runs one at a time; per page and event, ms from the request to the
    EventSource's receipt and to the re-rendered DOM."""
    for page in pages:
        await page.evaluate(WATCH_EVENTS)
    await asyncio.sleep(1)  # the probes' streams are open
    received: list[float] = []
    rendered: list[float] = []
    jobs = []
    for _ in range(events):
        for page in pages:
            await page.evaluate("() => { window.__received = []; window.__rendered = []; }")
        sent = time.time() * 1000
        answer = await client.post(f"/api/execution/test/{test_id}/run", headers=headers)
        jobs.append(answer.json()["jobId"])
        await asyncio.sleep(1.0)  # longer than any delay measured: each event is on its own
        for page in pages:
            got: dict[str, list[float]] = await page.evaluate(
                "() => ({received: window.__received, rendered: window.__rendered})"
            )
            if got["received"]:
                received.append(got["received"][0] - sent)
            if got["rendered"]:
                rendered.append(got["rendered"][0] - sent)
    return received, rendered, jobs


def summary(values: list[float]) -> str:
    if not values:
        return "no sample"
    return (
        f"p50 {percentile(values, 0.5):.0f}, p99 {percentile(values, 0.99):.0f}, "
        f"max {max(values):.0f} ms ({len(values)} samples)"
    )


async def main(total: int, base_url: str) -> None:
    headers, test_id, _ = await paused_project(base_url, "dashboard")
    token = headers["Authorization"].split(" ", 1)[1]
    url = httpx.URL(base_url)
    queued, wall = await enqueue(url.host, url.port or 80, headers, test_id, total, 20)
    jobs = [job for _, _, job, _ in queued]
    print(f"queued {len(jobs)} runs in {wall:.1f} s")
    results: dict[str | int, Any] = {}
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        first = await signed_in(browser, base_url, token)
        project_path = first.url.removeprefix(base_url)
        cookies = {c["name"]: c["value"] for c in await first.context.cookies()}
        ui_client = httpx.AsyncClient(base_url=base_url, timeout=60, cookies=cookies)
        results["page"] = await server_times(ui_client, project_path, {}, 30)
        runs_path = f"{project_path}/runs"
        for key, query in FILTERS.items():
            results[key] = await server_times(ui_client, f"{runs_path}?{query}", {}, 30)
        results["json"] = await server_times(client, "/api/execution/queue/status", headers, 30)
        await ui_client.aclose()
        results["paint"] = [await first_render_ms(first, first.url) for _ in range(10)]
        await first.wait_for_selector("#live[data-connected='true']")
        for count in (1, 50):
            pages = [first] + [await signed_in(browser, base_url, token) for _ in range(count - 1)]
            received, rendered, more = await event_delays(
                pages, client, headers, test_id, 20 if count == 1 else 5
            )
            results[count] = (received, rendered)
            jobs += more
            for page in pages[1:]:
                await page.context.close()
        await browser.close()
    failed = await cancel_all(base_url, headers, jobs)
    print(f"queue page of a project with {total} waiting runs ({project_path}), {base_url}")
    print(f"  server time of the page: {summary([t * 1000 for t in results['page']])}")
    print(
        "  baseline, GET /api/execution/queue/status of the same project: "
        f"{summary([t * 1000 for t in results['json']])}"
    )
    print(f"  first contentful paint in Chromium: {summary(results['paint'])}")
    for key, query in FILTERS.items():
        times = summary([t * 1000 for t in results[key]])
        print(f"  server time of the {key} (?{query}): {times}")
    for count in (1, 50):
        received, rendered = results[count]
        print(f"  {count} dashboard(s) open, a run queued -> the page's DOM: {summary(rendered)}")
        print(f"    baseline, the same event reaching the page's EventSource: {summary(received)}")
    print(
        "targets: page at most 300 ms (server and first render), the runs page with names and"
        " filters p99 <= 100 ms; event to DOM p99 <= 250 ms"
    )
    if failed:
        print(f"warning: {failed} runs could not be cancelled")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.url))
