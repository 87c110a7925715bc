"""A tenant's test, queued through the public API with a project token, reaches only the pages
the egress policy allows: never another port of this machine, never a local file."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.api.jobs import create_test, wait_for_stored_state
from tests.support.api_fixtures import ProjectAccess, new_project
from tests.support.pages import serve_private_page

MARKER = "private-" + uuid.uuid4().hex
PASSWD_LINE = "root:x:0:0"


@pytest.fixture(scope="module")
def private_url() -> Iterator[str]:
    """A page on a loopback port that is not allowlisted."""
    with serve_private_page(MARKER) as url:
        yield url


def probe_test(start_url: str, *steps: dict) -> dict:
    return {
        "name": "probe",
        "start_url": start_url,
        "trace": "on-failure-with-snapshots",
        "steps": list(steps) or [{"action": "wait", "value": 1000}],
    }


async def run_to_its_end(live: httpx.AsyncClient, project: ProjectAccess, test: dict) -> dict:
    """Queue the test, wait for its stored failure, return the stored run."""
    test_id = await create_test(live, project, test)
    queued = await live.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    assert queued.status_code == 200, queued.text
    return await wait_for_stored_state(live, project, queued.json()["jobId"], "failed", 90)


async def everything_the_tenant_gets(
    live: httpx.AsyncClient, project: ProjectAccess, run: dict
) -> str:
    """The run record, its event stream and the text of every artifact (zips unpacked)."""
    parts = [str(run)]
    events = await live.get(f"/api/execution/job/{run['jobId']}/events", headers=project.headers)
    parts.append(events.text)
    for link in run["artifacts"]:
        content = (await live.get(link, headers=project.headers)).content
        if link.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(content)) as trace:
                parts += [trace.read(name).decode(errors="replace") for name in trace.namelist()]
        else:
            parts.append(content.decode(errors="replace"))
    return "\n".join(parts)


async def test_every_way_to_another_loopback_port_or_a_file_fails_with_the_policy_error(
    live: httpx.AsyncClient, pages_url: str, private_url: str
) -> None:
    project = await new_project(live)
    port = private_url.rstrip("/").rsplit(":", 1)[1]
    loopback = f"blocked by the egress policy: 127.0.0.1:{port} is loopback"
    file_rule = (
        "blocked by the egress policy: file:///etc/passwd: the scheme 'file:' is not allowed"
    )
    probe = pages_url + "probe/{}?to=" + quote(private_url, safe="")
    cases = {
        "link": (
            probe_test(probe.format("link"), {"action": "click", "selector": "#go"}),
            loopback,
        ),
        "redirect": (probe_test(pages_url + "redirect?to=" + quote(private_url)), loopback),
        "iframe": (probe_test(probe.format("iframe")), loopback),
        "fetch": (probe_test(probe.format("fetch")), loopback),
        "image": (probe_test(probe.format("image")), loopback),
        "popup": (probe_test(probe.format("popup")), loopback),
        "service worker": (probe_test(probe.format("serviceworker")), loopback),
        "websocket": (
            probe_test(pages_url + "probe/websocket?to=" + quote(f"ws://127.0.0.1:{port}/")),
            loopback,
        ),
        "localhost": (
            probe_test(pages_url + "probe/iframe?to=" + quote(f"http://localhost:{port}/")),
            f"blocked by the egress policy: localhost:{port} (127.0.0.1) is loopback",
        ),
        "decimal address": (
            probe_test(pages_url + "probe/iframe?to=" + quote(f"http://2130706433:{port}/")),
            loopback,
        ),
        "file iframe": (probe_test(pages_url + "probe/iframe?to=file:///etc/passwd"), file_rule),
        "file link": (
            probe_test(
                pages_url + "probe/link?to=file:///etc/passwd",
                {"action": "click", "selector": "#go"},
                {"action": "wait", "value": 500},
            ),
            file_rule,
        ),
    }
    runs = await asyncio.gather(
        *(run_to_its_end(live, project, test) for test, _ in cases.values())
    )
    for (case, (_, expected)), run in zip(cases.items(), runs, strict=True):
        failed = [step for step in run["result"]["steps"] if step["status"] == "failed"]
        assert len(failed) == 1, (case, run["result"])
        assert failed[0]["error"].startswith(expected), (case, failed[0]["error"])
        assert failed[0]["error_type"] == "EgressBlocked", case
        assert failed[0]["attempts"] == 1, f"{case}: a refused destination is not retried"
        seen = await everything_the_tenant_gets(live, project, run)
        assert MARKER not in seen, f"{case}: the private page's content reached the tenant"
        assert PASSWD_LINE not in seen, f"{case}: /etc/passwd reached the tenant"


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        ({"start_url": "file:///etc/passwd"}, "start_url", "absolute http(s) URL"),
        ({"start_url": "http://169.254.169.254/latest/"}, "start_url", "is link-local"),
        ({"start_url": "http://10.1.2.3/"}, "start_url", "is private (RFC 1918)"),
        ({"start_url": "http://[::ffff:127.0.0.1]:9464/"}, "start_url", "is loopback"),
        ({"steps": [{"action": "navigate", "value": "file:///etc/passwd"}]}, "steps[0]", "'file:'"),
        (
            {"steps": [{"action": "navigate", "value": "view-source:http://127.0.0.1:9464/"}]},
            "steps[0]",
            "'view-source:'",
        ),
        (
            {"steps": [{"action": "navigate", "value": "javascript:alert(1)"}]},
            "steps[0]",
            "'javascript:'",
        ),
        ({"steps": [{"action": "navigate", "value": "data:text/html,x"}]}, "steps[0]", "'data:'"),
        (
            {"steps": [{"action": "navigate", "value": "chrome://version"}]},
            "steps[0]",
            "'chrome:'",
        ),
        (
            {"steps": [{"action": "navigate", "value": "http://2130706433:9464/"}]},
            "steps[0].value",
            "(127.0.0.1) is loopback",
        ),
        (
            {"steps": [{"action": "navigate", "value": "http://0x7f.1:8233/"}]},
            "steps[0].value",
            "(127.0.0.1) is loopback",
        ),
        (
            {"steps": [{"action": "navigate", "value": "http://localhost:8000/openapi.json"}]},
            "steps[0].value",
            "is loopback",
        ),
    ],
)
async def test_urls_that_can_never_pass_are_refused_when_the_test_is_defined(
    live: httpx.AsyncClient, pages_url: str, change: dict, where: str, reason: str
) -> None:
    project = await new_project(live)
    test = {**probe_test(pages_url + "shop.html"), **change}
    refused = await live.post("/api/tests", json=test, headers=project.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith(where) and reason in refused.json()["detail"]
    listed = await live.get("/api/tests", headers=project.headers)
    assert listed.json() == [], "a refused test is not stored"


async def test_a_login_url_that_can_never_pass_is_refused(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    flow = {
        "name": "login",
        "login_url": "http://127.0.0.1:8233/namespaces/default/workflows",
        "steps": [{"action": "click", "selector": "#submit"}],
        "credentials": {"username": "user", "password": "pass-word"},
    }
    refused = await live.post("/api/auth-flows", json=flow, headers=project.headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"] == (
        "login_url: blocked by the egress policy: 127.0.0.1:8233 is loopback"
    )
    flow["login_url"] = pages_url + "login.html"
    assert (await live.post("/api/auth-flows", json=flow, headers=project.headers)).is_success


async def test_page_text_in_an_error_is_capped_and_the_run_fails_normally(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    test = probe_test(
        pages_url + "big/2000000",
        {"action": "assert", "selector": "#big", "value": "not on this page"},
    )
    test["retry"] = {"max_attempts": 1}
    run = await run_to_its_end(live, project, test)
    (step,) = run["result"]["steps"]
    assert step["error_type"] == "AssertionFailed"
    assert "[cut: 1999500 more characters]" in step["error"]
    assert len(step["error"]) < 1000
    assert len(run["result"]["error"]) < 1200
