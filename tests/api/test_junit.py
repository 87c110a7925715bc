"""JUnit reports of runs: valid against the JUnit schema, one testcase per run, the failure's
message and type, a passed run's failed attempts as flakyFailure, the run's and artifacts'
links and its steps in system-out, what the runs share in the testsuite's properties."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import ANY
from xml.etree import ElementTree

import httpx
import xmlschema

from tests.api.jobs import create_test, queue, wait_for_job
from tests.support.api_fixtures import ProjectAccess, new_project
from tests.support.definitions import flaky_test, shop_test

SCHEMA = xmlschema.XMLSchema(Path(__file__).parents[1] / "support" / "junit.xsd")


async def report(api: httpx.AsyncClient, project: ProjectAccess, path: str) -> ElementTree.Element:
    """The report, asked for with a forged Host header (links must not follow it)."""
    answer = await api.get(path, headers={**project.headers, "Host": "evil.example"})
    assert "evil.example" not in answer.text
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/xml")
    SCHEMA.validate(answer.text)  # raises with the offending element if it is not valid
    return ElementTree.fromstring(answer.content)


def suite_properties(testsuite: ElementTree.Element) -> dict[str | None, str | None]:
    return {p.get("name"): p.get("value") for p in testsuite.iter("property")}


async def test_a_suite_run_reports_each_test_with_the_failure_s_message_and_type(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api)
    passing = await create_test(api, project, shop_test(pages_url))
    failing_test = shop_test(
        pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300
    )
    failing_test.update(name="missing button", retry={"max_attempts": 2, "initial_interval_s": 0.1})
    failing = await create_test(api, project, failing_test)
    suite = await api.post(
        "/api/suites",
        json={"name": "smoke", "test_ids": [passing, failing]},
        headers=project.headers,
    )
    jobs = [
        j["jobId"]
        for j in (
            await api.post(
                f"/api/execution/suite/{suite.json()['id']}/run", headers=project.headers
            )
        ).json()["jobs"]
    ]
    for job_id in jobs:
        await wait_for_job(api, project, job_id, ("completed", "failed"), timeout=90)

    root = await report(api, project, "/api/runs/junit.xml?" + "&".join(f"job={j}" for j in jobs))
    [testsuite] = root.findall("testsuite")
    assert testsuite.get("name") == "smoke"
    assert (testsuite.get("tests"), testsuite.get("failures"), testsuite.get("skipped")) == (
        "2",
        "1",
        "0",
    )
    cases = testsuite.findall("testcase")
    assert [c.get("name") for c in cases] == ["shop", "missing button"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("type") == "SelectorNotFound"
    assert failure.get("message", "").startswith("step 1 (click) failed after 2 attempts")
    out = cases[1].findtext("system-out") or ""
    assert "step 1 click: failed (2 attempts)" in out
    assert "attempt 1 [SelectorNotFound]: no element matches '#nope'" in out
    assert "retried after 0.1 s" in out
    assert "step 1 click #buy: passed (1 attempts" in (cases[0].findtext("system-out") or "")
    lines = out.splitlines()
    assert lines[:2] == [
        f"run: http://127.0.0.1:8000/ui/runs/{jobs[1]}",
        f"job: {jobs[1]} (failed)",
    ]
    links = [line.split(": ", 1)[1] for line in lines if line.startswith("artifact ")]
    assert any(link.endswith(".png") and f"/ui/runs/{jobs[1]}/artifacts/" in link for link in links)
    assert all(link.startswith("http://127.0.0.1:8000/ui/runs/") for link in links), links
    assert suite_properties(testsuite) == {"suite": "smoke", "suiteRun": ANY, "flaky": "0"}
    assert "/ui/suite-runs/" in suite_properties(testsuite)["suiteRun"]
    opened = await api.get(lines[0].removeprefix("run: http://127.0.0.1:8000"))
    assert opened.status_code in (200, 303) and "Authorization" not in opened.text, "a page"

    durations = [float(case.get("time") or 0) for case in cases]
    wall = float(testsuite.get("time") or 0)
    assert max(durations) <= wall <= sum(durations) + 0.001, (wall, durations)


async def test_a_run_that_passed_on_a_retry_is_flaky(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api)
    job_id = await queue(api, project, await create_test(api, project, flaky_test(pages_url)))
    await wait_for_job(api, project, job_id, ("completed",), timeout=60)
    root = await report(api, project, f"/api/runs/{job_id}/junit.xml")
    [testsuite] = root.findall("testsuite")
    [case] = testsuite.iter("testcase")
    assert suite_properties(testsuite)["flaky"] == "1"
    assert case.find("failure") is None
    flaky = case.findall("flakyFailure")
    assert flaky and all(f.get("type") and f.get("message", "").startswith("step ") for f in flaky)
    assert "flaky: passed on a retry" in (case.findtext("system-out") or "")


async def test_one_run_s_report_and_a_cancelled_run_is_skipped(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api)
    test_id = await create_test(api, project, shop_test(pages_url))
    await api.post("/api/execution/queue/pause", headers=project.headers)
    job_id = await queue(api, project, test_id)
    await api.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    root = await report(api, project, f"/api/runs/{job_id}/junit.xml")
    [case] = root.iter("testcase")
    skipped = case.find("skipped")
    assert skipped is not None and skipped.get("message") == "cancelled"
    [testsuite] = root.findall("testsuite")
    assert testsuite.get("skipped") == "1" and testsuite.get("failures") == "0"


async def test_another_project_s_runs_are_not_reported(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    owner, other = await new_project(api), await new_project(api)
    await api.post("/api/execution/queue/pause", headers=owner.headers)
    job_id = await queue(api, owner, await create_test(api, owner, shop_test(pages_url)))
    for path in (f"/api/runs/{job_id}/junit.xml", f"/api/runs/junit.xml?job={job_id}"):
        assert (await api.get(path, headers=other.headers)).status_code == 404
    await api.post(f"/api/execution/job/{job_id}/cancel", headers=owner.headers)
