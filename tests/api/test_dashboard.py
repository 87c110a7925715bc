"""The dashboard in a real Chromium against the running service: sign-in, live positions and
progress without a reload, actions behind CSRF, the run's evidence, and project isolation."""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from playwright.async_api import Browser, Page, expect

from core.config import Settings
from tests.api.dashboard_browser import signed_in
from tests.api.jobs import create_test, queue, wait_for_job
from tests.api.live_server import served
from tests.conftest import free_port
from tests.support.api_fixtures import ADMIN_TOKEN, ProjectAccess, new_project
from tests.support.definitions import shop_test
from tests.support.readme import readme_function
from tests.support.receiver import Receiver


async def paused_project(live: httpx.AsyncClient, pages_url: str) -> tuple[ProjectAccess, int]:
    project = await new_project(live)
    test_id = await create_test(live, project, shop_test(pages_url))
    await live.post("/api/execution/queue/pause", headers=project.headers)
    return project, test_id


def waiting_rows(page: Page) -> object:
    return page.locator("#waiting tbody tr[data-job]")


async def test_queued_runs_show_their_positions_which_move_up_live(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project, test_id = await paused_project(live, pages_url)
    jobs = [await queue(live, project, test_id) for _ in range(3)]
    page = await signed_in(browser, str(live.base_url), project.token)
    assert page.url.endswith(f"/ui/projects/{project.id}")
    rows = page.locator("#waiting tbody tr[data-job]")
    await expect(rows.locator(".position")).to_have_text(["1", "2", "3"])
    assert [await r.get_attribute("data-job") for r in await rows.all()] == jobs
    assert project.token not in await page.content(), "the token is never in a page"
    live_region = page.locator("#live")
    await expect(live_region).to_have_attribute("data-connected", "true")

    await live.post(f"/api/execution/job/{jobs[0]}/cancel", headers=project.headers)
    await expect(rows.locator(".position")).to_have_text(["1", "2"])  # no reload
    assert [await r.get_attribute("data-job") for r in await rows.all()] == jobs[1:]
    for job_id in jobs[1:]:
        await live.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    await page.context.close()


async def test_a_run_goes_from_waiting_to_active_to_completed_without_a_reload(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project, test_id = await paused_project(live, pages_url)
    job_id = await queue(live, project, test_id)
    page = await signed_in(browser, str(live.base_url), project.token)
    await expect(page.locator(f"#waiting tr[data-job='{job_id}']")).to_be_visible()
    await expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    await page.click("text=Resume")  # the page's own form, with its CSRF token
    await expect(page.locator(f"#finished tr[data-job='{job_id}'] .state-completed")).to_be_visible(
        timeout=60_000
    )
    assert await page.locator(f"#waiting tr[data-job='{job_id}']").count() == 0

    await page.click(f"#finished a[href='/ui/runs/{job_id}']")
    steps = page.locator("#steps tbody tr")
    await expect(steps.locator("td:nth-child(3)")).to_have_text(["passed"] * 3)
    await expect(steps.first.locator("td:nth-child(4)")).to_have_text("#buy")
    await page.context.close()


async def test_a_failed_run_shows_its_screenshot_and_opens_in_the_trace_viewer(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    failing = shop_test(pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300)
    failing["retry"] = {"max_attempts": 1}
    job_id = await queue(live, project, await create_test(live, project, failing))
    await wait_for_job(live, project, job_id, ("failed",), timeout=60)
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/runs/{job_id}")
    await expect(page.locator("#state")).to_contain_text("failed")
    await expect(page.locator("h1")).to_contain_text("shop")
    failure = page.locator("#failure")
    await expect(failure.locator("h2")).to_have_text("Why it failed: step 1 (click)")
    await expect(failure).to_contain_text("no element matches '#nope'")
    await expect(failure.locator("img.shot")).to_be_visible()
    await expect(page.locator("tr.failed-step td").first).to_have_text("1")
    await expect(page.locator("button:has-text('Cancel')")).to_have_count(0)
    await expect(page.locator("#steps")).to_contain_text("no element matches '#nope'")
    shot = page.locator("img.shot").first
    await expect(shot).to_be_visible()
    assert await shot.evaluate("img => img.naturalWidth") > 0, "the screenshot loaded"

    await page.click("text=Open the trace")
    await expect(page.locator(".action-title").first).to_be_visible(timeout=30_000)
    await expect(page.locator("body")).to_contain_text("Click")

    await page.go_back()
    await page.click("text=Retry")
    await expect(page.locator(".note")).to_contain_text("queued")
    assert f"/ui/runs/{job_id}" not in page.url, "the retry's own page"
    await page.context.close()


async def test_another_project_s_token_sees_none_of_the_first_project(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    first, test_id = await paused_project(live, pages_url)
    job_id = await queue(live, first, test_id)
    second = await new_project(live)
    page = await signed_in(browser, str(live.base_url), second.token)
    assert job_id not in await page.content()
    for path in (f"/ui/projects/{first.id}", f"/ui/runs/{job_id}"):
        answer = await page.goto(f"{live.base_url}{path}")
        assert answer is not None and answer.status == 404
        await expect(page.locator(".error")).to_contain_text("not found")
        assert first.name not in await page.content()
    await live.post(f"/api/execution/job/{job_id}/cancel", headers=first.headers)
    await page.context.close()


async def test_an_action_without_the_session_s_csrf_token_is_refused(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project, _ = await paused_project(live, pages_url)
    page = await signed_in(browser, str(live.base_url), project.token)
    refused = await page.evaluate(
        """async (url) => (await fetch(url, {method: "POST", body: new URLSearchParams(
            {csrf: "forged"})})).status""",
        f"{live.base_url}/ui/projects/{project.id}/resume",
    )
    assert refused == 403
    status = await live.get("/api/execution/queue/status", headers=project.headers)
    assert status.json()["queue"]["isPaused"] is True, "nothing was done"
    await page.context.close()


async def test_a_wrong_token_is_refused_in_words_and_no_page_opens_without_a_session(
    live: httpx.AsyncClient, browser: Browser
) -> None:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{live.base_url}/ui/")
    await page.fill("#token", "not-a-token")
    await page.click("button:has-text('Sign in')")
    await expect(page.locator(".error")).to_have_text(
        "That token belongs to no project (nor to the admin)."
    )
    answer = await page.goto(f"{live.base_url}/ui/projects/1")
    assert answer is not None and page.url.endswith("/ui/")
    await page.context.close()


async def test_the_admin_sees_every_project_and_pauses_every_queue(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project, test_id = await paused_project(live, pages_url)
    job_id = await queue(live, project, test_id)
    page = await signed_in(browser, str(live.base_url), ADMIN_TOKEN)
    assert page.url.endswith("/ui/admin")
    row = page.locator(f"#projects tr[data-project='{project.id}']")
    await expect(row.locator(".waiting")).to_have_text("1")
    await expect(page.locator("#capacity")).to_contain_text(re.compile(r"Workers live: [1-9]"))
    try:
        await page.click("button:has-text('Pause every queue')")
        await expect(page.locator(".note").first).to_contain_text("All queues paused")
        other = await new_project(live)
        status = await live.get("/api/execution/queue/status", headers=other.headers)
        assert status.json()["queue"]["isPaused"] is True
        await page.click("button:has-text('Resume every queue')")
        await expect(page.locator(".note").first).to_contain_text("All queues resumed")
    finally:  # never leave every other test's queue paused
        await live.post(
            "/api/admin/queue/resume", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
    await row.locator("a").click()
    await expect(page.locator(f"#waiting tr[data-job='{job_id}'] .position")).to_have_text("1")
    await live.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    await page.context.close()


async def test_tests_run_from_their_page_and_show_their_outcomes(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    test_id = await create_test(live, project, shop_test(pages_url))
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/tests")
    row = page.locator(f"#tests tr[data-test='{test_id}']")
    await row.locator("button:has-text('Run live')").click()
    await expect(page.locator(".note")).to_contain_text("queued (position")
    job_id = (await page.locator(".note").inner_text()).split()[0]
    await wait_for_job(live, project, job_id, ("completed",), timeout=60)
    await page.reload()
    await expect(row.locator(".strip a.state-completed")).to_have_count(1)
    runs = (await live.get("/api/runs", headers=project.headers)).json()
    assert [(r["jobId"], r["priority"]) for r in runs] == [(job_id, "live")]
    await page.context.close()


async def test_the_run_button_chooses_an_environment_and_the_run_shows_its_variables(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    for path, body in (
        ("variables", {"variables": {"BASE_URL": pages_url}}),
        ("environments/staging", {"variables": {"TOTAL": "42"}, "secrets": {"PIN": "s3cr3t-pin"}}),
    ):
        stored = await live.put(f"/api/projects/me/{path}", json=body, headers=project.headers)
        assert stored.status_code == 200, stored.text
    test = shop_test(
        pages_url,
        {"action": "type", "selector": "#email", "value": "{{PIN}}"},
        {"action": "click", "selector": "#buy"},
        {"action": "assert", "selector": "#total", "value": "{{TOTAL}}"},
        start_url="shop.html",
    )
    test_id = await create_test(live, project, test)
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/tests")
    row = page.locator(f"#tests tr[data-test='{test_id}']")
    await row.locator("select[name=environment]").select_option("staging")
    await row.locator("button:has-text('Run')").first.click()
    await expect(page.locator(".note")).to_contain_text("queued (position")
    job_id = (await page.locator(".note").inner_text()).split()[0]
    done = await wait_for_job(live, project, job_id, ("completed", "failed"), timeout=60)
    assert done["state"] == "completed", done["result"]["error"]
    await page.goto(f"{live.base_url}/ui/runs/{job_id}")
    table = page.locator("#variables")
    await expect(table.locator("caption")).to_have_text("Environment: staging")
    await expect(table.locator("tbody tr")).to_have_text(
        ["BASE_URL" + pages_url, "PIN***", "TOTAL42"]
    )
    assert "s3cr3t-pin" not in await page.content()
    await page.context.close()


async def test_a_test_the_engine_refuses_shows_every_reason_at_once_and_stores_nothing(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/tests/edit")
    broken = shop_test(pages_url)
    broken["steps"][1] = {"action": "click"}
    await page.fill("#definition", json.dumps(broken))
    await page.click("button:has-text('Save')")
    await expect(page.locator("#step-1 .step-error")).to_have_text(
        "selector: action 'click' needs a selector"
    )
    assert await page.locator("#step-0 .step-error").count() == 0
    assert (await live.get("/api/tests", headers=project.headers)).json() == []

    unknown_names = shop_test(pages_url)
    unknown_names["steps"][1] = {"action": "type", "selector": "#q", "value": "{{NOWHERE}}"}
    unknown_names["auth_flow_id"] = 999999
    await page.fill("#definition", json.dumps(unknown_names))
    await page.click("button:has-text('Save')")
    problems = page.locator("main > p.error")
    await expect(problems).to_have_count(2)
    await expect(problems.nth(0)).to_contain_text("NOWHERE")
    await expect(problems.nth(1)).to_contain_text("auth flow 999999 not found")
    assert (await live.get("/api/tests", headers=project.headers)).json() == []

    await page.fill("#definition", json.dumps(shop_test(pages_url)))
    await page.click("button:has-text('Save')")
    await expect(page.locator(".note")).to_contain_text("saved")
    assert len((await live.get("/api/tests", headers=project.headers)).json()) == 1
    await page.context.close()


async def test_schedules_are_listed_with_their_next_fires_and_resumed_from_the_page(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    test_id = await create_test(live, project, shop_test(pages_url))
    made = await live.post(
        "/api/schedules",
        json={"name": "nightly", "test_id": test_id, "cron": "0 3 * * *", "paused": True},
        headers=project.headers,
    )
    assert made.status_code == 201, made.text
    schedule_id = made.json()["id"]
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/schedules")
    row = page.locator(f"#schedules tr[data-schedule='{schedule_id}']")
    await expect(row).to_contain_text("paused")
    await expect(row).to_contain_text("03:00:00")
    await row.locator("button:has-text('Resume')").click()
    await expect(page.locator(f"#schedules tr[data-schedule='{schedule_id}']")).to_contain_text(
        "active"
    )
    described = await live.get(f"/api/schedules/{schedule_id}", headers=project.headers)
    assert described.json()["paused"] is False
    await live.delete(f"/api/schedules/{schedule_id}", headers=project.headers)
    await page.context.close()


async def test_a_schedule_is_made_and_edited_on_the_page_in_its_time_zone_with_its_fires(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    await create_test(live, project, {**shop_test(pages_url), "name": "nightly shop"})
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/schedules")
    form = page.locator("#new-schedule")
    await form.locator("input[name=name]").fill("night in Berlin")
    await form.locator("input[name=timing]").fill("0 2 * * *")
    await form.locator("input[name=time_zone]").fill("Europe/Berlin")
    await form.locator("button").click()
    await expect(page.locator(".note")).to_contain_text("Schedule night in Berlin created")
    row = page.locator("#schedules tbody tr[data-schedule]")
    await expect(row).to_contain_text("test nightly shop")
    await expect(row).to_contain_text("02:00:00 Europe/Berlin")
    await expect(row.locator(".actions > form button")).to_have_text(["Pause", "Trigger"])
    await row.locator("summary:has-text('Edit')").click()
    edit = row.locator(".edit-schedule form")
    await expect(edit.locator("input[name=timing]")).to_have_value("0 2 * * *")
    await edit.locator("input[name=name]").fill("half past three in Berlin")
    await edit.locator("input[name=timing]").fill("30 3 * * *")
    await edit.locator("button").click()
    await expect(page.locator(".note")).to_contain_text("Schedule half past three in Berlin saved")
    await expect(row).to_contain_text("03:30:00 Europe/Berlin")
    await expect(row).not_to_contain_text("02:00:00")
    await row.locator("button:has-text('Trigger')").click()
    [made] = (await live.get("/api/schedules", headers=project.headers)).json()
    for _ in range(100):
        runs = (await live.get("/api/runs", headers=project.headers)).json()
        if runs:
            break
        await asyncio.sleep(0.2)
    await page.reload()
    await expect(row.locator(".recent a")).to_have_count(1)
    await live.delete(f"/api/schedules/{made['id']}", headers=project.headers)

    await form.locator("input[name=name]").fill("bad")
    await form.locator("input[name=timing]").fill("0 2 * * *")
    await form.locator("input[name=time_zone]").fill("Mars/Olympus")
    await form.locator("button").click()
    await expect(page.locator(".note")).to_contain_text("unknown time zone")
    await page.context.close()


async def test_an_open_queue_page_picks_up_again_after_the_api_restarts(
    live: httpx.AsyncClient, browser: Browser, pages_url: str, settings: Settings
) -> None:
    """The page's stream drops with the API; the browser reconnects by itself (with the last
    event's ID) once a new API process answers on the same address, and the page follows."""
    project, test_id = await paused_project(live, pages_url)
    first_job = await queue(live, project, test_id)
    port = free_port()
    api_settings = settings.model_copy(update={"admin_token": ADMIN_TOKEN})
    async with served(api_settings, port) as url:
        page = await signed_in(browser, url, project.token)
        await expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    renders = int(await page.locator("#live").get_attribute("data-renders") or 0)
    later_job = await queue(live, project, test_id)  # while this page's API is down
    async with served(api_settings, port):
        rows = page.locator("#waiting tbody tr[data-job]")
        await expect(rows.locator(".position")).to_have_text(["1", "2"], timeout=30_000)
        assert [await r.get_attribute("data-job") for r in await rows.all()] == [
            first_job,
            later_job,
        ]
        assert int(await page.locator("#live").get_attribute("data-renders") or 0) > renders
        third_job = await queue(live, project, test_id)  # its event, on the resumed stream
        await expect(rows.locator(".position")).to_have_text(["1", "2", "3"], timeout=10_000)
        assert await rows.nth(2).get_attribute("data-job") == third_job
    for job_id in (first_job, later_job, third_job):
        await live.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    await page.context.close()


async def test_runs_are_found_by_test_name_and_state_with_the_reason_beside_each(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    good = await create_test(live, project, {**shop_test(pages_url), "name": "Checkout works"})
    failing = shop_test(pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300)
    failing.update(name="Search is broken", retry={"max_attempts": 1})
    bad = await create_test(live, project, failing)
    good_job, bad_job = await queue(live, project, good), await queue(live, project, bad)
    await wait_for_job(live, project, good_job, ("completed",), timeout=60)
    await wait_for_job(live, project, bad_job, ("failed",), timeout=60)

    page = await signed_in(browser, str(live.base_url), project.token)
    finished = page.locator(f"#finished tr[data-job='{bad_job}']")
    await expect(finished.locator("a")).to_contain_text("Search is broken")
    await expect(finished.locator(".reason")).to_contain_text("no element matches '#nope'")
    await page.fill("input[name=name]", "checkout")
    await page.click("button:has-text('Find runs')")
    rows = page.locator("#runs tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-job", good_job)
    await page.fill("input[name=name]", "")
    await page.select_option("select[name=state]", "failed")
    await page.click("button:has-text('Find')")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-job", bad_job)
    await expect(rows.first.locator(".reason")).to_contain_text("no element matches")
    await page.context.close()


async def test_a_pause_made_elsewhere_shows_on_the_open_queue_page_within_a_second(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    page = await signed_in(browser, str(live.base_url), project.token)
    await expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    badge = page.locator("#counts .note")
    await expect(badge).to_have_count(0)
    await live.post("/api/execution/queue/pause", headers=project.headers)
    await expect(badge).to_have_text("Paused", timeout=1_000)
    await live.post("/api/execution/queue/resume", headers=project.headers)
    await expect(badge).to_have_count(0, timeout=1_000)
    await page.context.close()


async def test_the_queue_page_never_shows_more_active_runs_than_max_parallel(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live, max_parallel=2)
    test_id = await create_test(live, project, {**shop_test(pages_url), "name": "quick"})
    page = await signed_in(browser, str(live.base_url), project.token)
    await expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    await page.evaluate(
        """() => {
            window.activeSeen = [];
            const rows = () => document.querySelectorAll("#active tbody tr[data-job]");
            window.sampler = setInterval(() => window.activeSeen.push(rows().length), 50);
        }"""
    )
    jobs = [await queue(live, project, test_id) for _ in range(10)]
    for job_id in jobs:
        await wait_for_job(live, project, job_id, ("completed",), timeout=120)
    await expect(page.locator("#finished tbody tr[data-job]")).to_have_count(10)
    seen = await page.evaluate("() => { clearInterval(window.sampler); return window.activeSeen; }")
    assert len(seen) > 20 and max(seen) >= 1, "the sampler watched runs go through"
    assert max(seen) <= 2, f"at most max_parallel active at every sample: {max(seen)}"
    await page.context.close()


async def test_tests_are_deleted_and_suites_edited_from_the_page(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    first = await create_test(live, project, {**shop_test(pages_url), "name": "first"})
    second = await create_test(live, project, {**shop_test(pages_url), "name": "second"})
    suite = await live.post(
        "/api/suites", json={"name": "pair", "test_ids": [first, second]}, headers=project.headers
    )
    job_id = await queue(live, project, first)
    await wait_for_job(live, project, job_id, ("completed",), timeout=60)
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/tests")
    await expect(page.locator("#suites")).to_contain_text("first, second")
    chart = page.locator(f"#tests tr[data-test='{first}'] svg")
    await expect(chart).to_have_count(0)  # one run: no line yet
    await page.click(f"#suites tr[data-suite='{suite.json()['id']}'] a:has-text('Edit')")
    await page.fill("input[name=test_ids]", f"{second}")
    await page.fill("input[name=name]", "just the second")
    await page.click("#suite button")
    await expect(page.locator(".note")).to_contain_text("Suite just the second saved")
    await expect(page.locator("#suites")).to_contain_text("just the second")
    stored = (await live.get(f"/api/suites/{suite.json()['id']}", headers=project.headers)).json()
    assert stored["test_ids"] == [second]

    await page.locator(f"#tests tr[data-test='{first}'] button:has-text('Delete')").click()
    await expect(page.locator(".note")).to_contain_text(f"Test {first} deleted")
    await expect(page.locator(f"#tests tr[data-test='{first}']")).to_have_count(0)
    assert (await live.get(f"/api/runs/{job_id}", headers=project.headers)).status_code == 200

    await page.goto(f"{live.base_url}/ui/admin")
    await expect(page.locator(".error")).to_contain_text("for the service's admin")
    await page.context.close()


async def test_a_suite_run_has_a_page_that_follows_it_to_its_end_and_retries_what_failed(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    project = await new_project(live)
    good = await create_test(live, project, {**shop_test(pages_url), "name": "good"})
    failing = shop_test(pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300)
    failing.update(name="bad", retry={"max_attempts": 1})
    bad = await create_test(live, project, failing)
    suite = await live.post(
        "/api/suites", json={"name": "pair", "test_ids": [good, bad]}, headers=project.headers
    )
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/tests")
    await page.click(f"#suites tr[data-suite='{suite.json()['id']}'] button:has-text('Run suite')")
    await expect(page.locator("h1")).to_contain_text("pair")
    await expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    state = page.locator("#suite-state b")
    await expect(state).to_have_text("failed", timeout=60_000)  # no reload: it follows the runs
    await expect(page.locator("#suite-runs tbody tr")).to_have_count(2)
    await expect(page.locator("#suite-runs .reason")).to_contain_text(["", "no element matches"])
    await page.click("button:has-text('Retry what did not pass')")
    await expect(page.locator(".note")).to_contain_text("1 run of the suite run queued again")
    await expect(page.locator("text=Replaced by a retry")).to_be_visible()
    await page.context.close()


verify_signature = readme_function("verify_signature")


async def test_a_webhook_is_made_tested_redelivered_and_turned_off_on_the_page(
    live: httpx.AsyncClient, browser: Browser, receiver: Receiver
) -> None:
    project = await new_project(live)
    where = f"/hook/dashboard-{project.id}"
    page = await signed_in(browser, str(live.base_url), project.token)
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/webhooks")
    form = page.locator("#new-webhook")
    await form.locator("input[name=url]").fill(receiver.answer(where, 200))
    await form.locator("input[name=name]").fill("team chat")
    await form.locator("input[name=only_failures]").check()
    await form.locator("button").click()
    await expect(page.locator(".note")).to_contain_text("Webhook team chat created")
    secret = await page.locator("#webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    await page.goto(f"{live.base_url}/ui/projects/{project.id}/webhooks")
    assert secret not in await page.content(), "the secret is shown once"
    hook = page.locator("section.webhook")
    await expect(hook).to_contain_text("failures only")

    await hook.locator("button:has-text('Send a test event')").click()
    await expect(page.locator(".note")).to_contain_text("sent")
    [sent] = await asyncio.to_thread(receiver.wait_for, where, 1)
    assert verify_signature(secret, sent.body, sent.headers["X-Signature"])
    for _ in range(50):
        await page.reload()
        if await hook.locator(".outcome-delivered").count():
            break
        await asyncio.sleep(0.1)
    await expect(hook.locator(".outcome-delivered")).to_have_count(1)
    await hook.locator("button:has-text('Redeliver')").click()
    await expect(page.locator(".note")).to_contain_text("sent")
    [_, again] = await asyncio.to_thread(receiver.wait_for, where, 2)
    assert json.loads(again.body)["id"] == json.loads(sent.body)["id"]

    await hook.locator("button:has-text('Disable')").click()
    await expect(hook.locator("h2")).to_contain_text("off")
    await hook.locator("button:has-text('Delete')").click()
    await expect(page.locator("main")).to_contain_text("No webhook yet.")
    await page.context.close()
