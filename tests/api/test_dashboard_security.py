"""The dashboard as part of the service's origin, in a real Chromium: nobody frames it, it signs
in only from its own pages, sign-out and rotation end a session on the server, and the trace
viewer opens only the session's own traces and lets no snapshot post a form."""

from __future__ import annotations

import asyncio

import httpx
from playwright.async_api import Browser, Page, expect

from tests.api.dashboard_browser import signed_in
from tests.api.jobs import create_test, queue, wait_for_job
from tests.support.api_fixtures import ADMIN_TOKEN, ProjectAccess, new_project
from tests.support.attacker import AttackerSite
from tests.support.definitions import shop_test


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def session_cookie(page: Page) -> str:
    cookies = await page.context.cookies()
    return next(cookie["value"] for cookie in cookies if cookie["name"] == "ui_session")


def with_cookie(cookie: str) -> dict[str, str]:
    return {"Cookie": f"ui_session={cookie}"}


async def is_signed_in(live: httpx.AsyncClient, cookie: str, project: ProjectAccess) -> bool:
    response = await live.get(f"/ui/projects/{project.id}", headers=with_cookie(cookie))
    return response.status_code == 200 and "waiting" in response.text


async def test_every_dashboard_response_forbids_framing_inline_script_and_foreign_forms(
    live: httpx.AsyncClient, browser: Browser
) -> None:
    project = await new_project(live)
    page = await signed_in(browser, str(live.base_url), project.token)
    cookie = await session_cookie(page)
    await page.context.close()
    paths = [
        "/ui/",
        f"/ui/projects/{project.id}",
        "/ui/static/live.js",
        "/ui/trace/index.html",
        "/ui/trace/sw.bundle.js",
        "/ui/runs/no-such-run",
    ]
    for path in paths:
        response = await live.get(path, headers=with_cookie(cookie))
        policy = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy or path.endswith("sw.bundle.js"), path
        assert "'unsafe-inline'" not in policy.split("script-src")[-1].split(";")[0], path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "same-origin", path
    page_policy = (await live.get("/ui/")).headers["content-security-policy"]
    assert "form-action 'self'" in page_policy and "script-src 'self'" in page_policy
    worker_policy = await live.get("/ui/trace/sw.bundle.js", headers=with_cookie(cookie))
    assert "connect-src 'self'" in worker_policy.headers["content-security-policy"]


async def test_a_page_on_another_port_cannot_frame_the_dashboard_or_click_through_it(
    live: httpx.AsyncClient, browser: Browser
) -> None:
    project = await new_project(live)
    page = await signed_in(browser, str(live.base_url), project.token)
    await expect(page.locator("button:has-text('Pause')")).to_be_visible()
    framing = f"<iframe id='victim' src='{live.base_url}/ui/projects/{project.id}'></iframe>"
    with AttackerSite({"/frame.html": framing}) as site:
        await page.goto(site.url + "frame.html")
        await page.wait_for_timeout(1000)
        frame = next(f for f in page.frames if f is not page.main_frame)
        assert await frame.locator("button").count() == 0, "the dashboard rendered in a frame"
        await page.mouse.click(60, 60)  # where the framed Pause button would be
    status = await live.get("/api/execution/queue/status", headers=project.headers)
    assert not status.json()["queue"]["paused"]
    await page.context.close()


async def test_sign_in_from_another_site_s_page_is_refused(
    live: httpx.AsyncClient, browser: Browser
) -> None:
    """Login CSRF: a foreign page auto-submits another project's token to the sign-in form."""
    attacker_project = await new_project(live)
    form = (
        f"<form id='f' method='post' action='{live.base_url}/ui/sign-in'>"
        f"<input name='token' value='{attacker_project.token}'></form>"
        "<script>document.getElementById('f').submit()</script>"
    )
    context = await browser.new_context()
    page = await context.new_page()
    with AttackerSite({"/login.html": form}) as site:
        answers: list[int] = []
        page.on("response", lambda r: answers.append(r.status) if "sign-in" in r.url else None)
        await page.goto(site.url + "login.html")
        await page.wait_for_load_state("networkidle")
    assert answers == [403], answers
    assert not [c for c in await context.cookies() if c["name"] == "ui_session"]
    await page.goto(f"{live.base_url}/ui/")
    await expect(page.locator("#token")).to_be_visible()  # still the sign-in page
    await context.close()

    refused = await live.post(
        "/ui/sign-in",
        data={"token": attacker_project.token},
        headers={"Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"},
    )
    assert refused.status_code == 403 and refused.json()["code"] == "cross_site_form"


async def test_sign_out_and_token_rotation_end_a_session_in_use_at_once(
    live: httpx.AsyncClient, browser: Browser
) -> None:
    project = await new_project(live)
    page = await signed_in(browser, str(live.base_url), project.token)
    kept = await session_cookie(page)
    assert await is_signed_in(live, kept, project)
    await page.click("button:has-text('Sign out')")
    await expect(page.locator("#token")).to_be_visible()
    assert not await is_signed_in(live, kept, project), "the old cookie still works"

    page = await signed_in(browser, str(live.base_url), project.token)
    in_use = await session_cookie(page)
    listed = await live.get(f"/api/admin/projects/{project.id}/sessions", headers=admin())
    assert len(listed.json()) == 1 and "ui_session" not in listed.text
    rotated = await live.post("/api/projects/me/token", headers=project.headers)
    assert rotated.status_code == 200
    assert not await is_signed_in(live, in_use, project)
    await page.reload()
    await expect(page.locator("#token")).to_be_visible()
    await page.context.close()

    token = rotated.json()["token"]
    pages = [await signed_in(browser, str(live.base_url), token) for _ in range(2)]
    cookies = [await session_cookie(p) for p in pages]
    assert all([await is_signed_in(live, c, project) for c in cookies])
    ended = await live.delete(f"/api/admin/projects/{project.id}/sessions", headers=admin())
    assert ended.json()["message"] == "2 dashboard session(s) ended"
    assert not any([await is_signed_in(live, c, project) for c in cookies])
    assert (
        await live.get(f"/api/admin/projects/{project.id}/sessions", headers=admin())
    ).json() == []
    for opened in pages:
        await opened.context.close()


async def test_the_trace_viewer_opens_only_the_session_s_own_traces(
    live: httpx.AsyncClient, browser: Browser, pages_url: str
) -> None:
    """A foreign URL and another project's trace are refused; on an own trace whose snapshot
    holds a form that posts to another site, the snapshot cannot post it."""
    project, other = await new_project(live), await new_project(live)
    with AttackerSite() as site:
        failing = shop_test(pages_url, {"action": "click", "selector": "#nope"})
        failing["start_url"] = f"{pages_url}form-post?to={site.url}steal"
        failing.update(step_timeout_ms=300, trace="on-failure-with-snapshots")
        failing["retry"] = {"max_attempts": 1}
        job = await queue(live, project, await create_test(live, project, failing))
        other_job = await queue(live, other, await create_test(live, other, failing))
        for owner, job_id in ((project, job), (other, other_job)):
            await wait_for_job(live, owner, job_id, ("failed",), timeout=60)
        run = (await live.get(f"/api/runs/{job}", headers=project.headers)).json()
        trace = next(name for name in run["result"]["artifacts"] if name.endswith(".zip"))

        page = await signed_in(browser, str(live.base_url), project.token)
        cookie = with_cookie(await session_cookie(page))
        viewer = f"{live.base_url}/ui/trace/index.html?trace="
        foreign = await live.get(viewer + site.url + "evil.zip", headers=cookie)
        assert foreign.status_code == 400 and "own traces" in foreign.text
        theirs = f"/ui/runs/{other_job}/artifacts/{trace}"
        assert (await live.get(viewer + theirs, headers=cookie)).status_code == 404

        await page.goto(viewer + f"/ui/runs/{job}/artifacts/{trace}")
        await page.locator(".action-title").first.click(timeout=30_000)
        snapshot = None
        for _ in range(100):
            snapshot = next((f for f in page.frames if "/snapshot/" in f.url), None)
            if snapshot is not None and await snapshot.locator("form").count():
                break
            await asyncio.sleep(0.1)
        assert snapshot is not None, [f.url for f in page.frames]
        opened = await page.context.new_page()  # the snapshot on its own, in a tab
        await opened.goto(snapshot.url)
        await expect(opened.locator("form")).to_have_count(1)
        await opened.evaluate("document.querySelector('form').submit()")
        await asyncio.sleep(1.5)
        assert site.posts == [], "a snapshot posted a form to another site"
        await page.context.close()
