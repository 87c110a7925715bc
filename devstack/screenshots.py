"""Screenshots of the dashboard's pages for the README (docs/dashboard/*.png).

Start the service first (scripts/serve), then:  python -m devstack.screenshots
A demo project gets a passing and a failing run of the demo shop, three waiting runs and a
schedule; each page is then captured at 1200 px wide.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx
from playwright.async_api import Page, async_playwright

from core.chromium import LAUNCH_ARGS, chromium_executable
from core.config import get_settings
from devstack.demo import demo_url

OUT = Path(__file__).resolve().parents[1] / "docs" / "dashboard"
BASE = "http://127.0.0.1:8000"


def admin_token() -> str:
    settings = get_settings()
    return os.environ.get("ADMIN_TOKEN") or (Path(settings.data_dir) / "admin.token").read_text()


async def finished(api: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> None:
    for _ in range(300):
        job = (await api.get(f"/api/execution/job/{job_id}", headers=headers)).json()["job"]
        if job["state"] in ("completed", "failed", "cancelled", "timed_out"):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{job_id} did not finish")


async def demo_project(api: httpx.AsyncClient) -> tuple[dict[str, str], str, str, int]:
    """(headers, token, the failed run's job, the project's id)."""
    admin = {"Authorization": f"Bearer {admin_token().strip()}"}
    made = await api.post(
        "/api/projects", json={"name": f"demo-{uuid.uuid4().hex[:4]}"}, headers=admin
    )
    token = made.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    shop = {
        "name": "buy and check the total",
        "start_url": demo_url() + "shop.html",
        "steps": [
            {"action": "click", "selector": "#buy"},
            {"action": "assert", "selector": "#total", "value": "42"},
        ],
    }
    broken = {
        **shop,
        "name": "checkout button",
        "retry": {"max_attempts": 2},
        "step_timeout_ms": 500,
    }
    broken["steps"] = [*shop["steps"], {"action": "click", "selector": "#checkout"}]
    ids = [
        (await api.post("/api/tests", json=t, headers=headers)).json()["id"] for t in (shop, broken)
    ]
    jobs = []
    for test_id in ids:
        answer = await api.post(f"/api/execution/test/{test_id}/run", headers=headers)
        jobs.append(answer.json()["jobId"])
    for job_id in jobs:
        await finished(api, headers, job_id)
    await api.post("/api/execution/queue/pause", headers=headers)
    for _ in range(3):
        await api.post(f"/api/execution/test/{ids[0]}/run", headers=headers)
    schedule = {"name": "nightly", "test_id": ids[0], "cron": "0 3 * * *"}
    await api.post("/api/schedules", json=schedule, headers=headers)
    return headers, token, jobs[1], made.json()["id"]


async def capture(page: Page, path: str, name: str) -> None:
    await page.goto(BASE + path)
    await page.wait_for_load_state("networkidle")
    await page.screenshot(path=OUT / f"{name}.png", full_page=True)


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with httpx.AsyncClient(base_url=BASE, timeout=60) as api, async_playwright() as pw:
        headers, token, failed_job, project_id = await demo_project(api)
        browser = await pw.chromium.launch(
            executable_path=chromium_executable(None), args=LAUNCH_ARGS
        )
        page = await (await browser.new_context(viewport={"width": 1200, "height": 800})).new_page()
        await capture(page, "/ui/", "sign-in")
        await page.fill("#token", token)
        await page.click("button:has-text('Sign in')")
        await capture(page, f"/ui/projects/{project_id}", "queue")
        await capture(page, f"/ui/runs/{failed_job}", "run")
        await capture(page, f"/ui/projects/{project_id}/tests", "tests")
        await capture(page, f"/ui/projects/{project_id}/schedules", "schedules")
        admin = await (
            await browser.new_context(viewport={"width": 1200, "height": 800})
        ).new_page()
        await admin.goto(BASE + "/ui/")
        await admin.fill("#token", admin_token().strip())
        await admin.click("button:has-text('Sign in')")
        await capture(admin, "/ui/admin", "admin")
        await browser.close()
        await api.post("/api/execution/queue/resume", headers=headers)
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
