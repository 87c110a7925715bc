"""A suite's runs as one suite run: queued longest first by recent durations, its state,
counts, progress and wall time, its JUnit report named after the suite, and one retry of
what did not pass."""

from __future__ import annotations

from xml.etree import ElementTree

import httpx

from tests.api.jobs import create_test, queue, wait_for_job
from tests.support.api_fixtures import ProjectAccess
from tests.support.definitions import shop_test


def timed_test(pages_url: str, name: str, wait_ms: int) -> dict:
    return {**shop_test(pages_url, {"action": "wait", "value": wait_ms}), "name": name}


async def test_a_suite_run_queues_longest_first_and_is_seen_and_retried_as_one(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    quick = await create_test(api, project, timed_test(pages_url, "quick", 50))
    slow = await create_test(api, project, timed_test(pages_url, "slow", 1500))
    failing = shop_test(pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300)
    failing.update(name="failing", retry={"max_attempts": 1})
    broken = await create_test(api, project, failing)
    for test_id in (quick, slow):  # a history to order by
        await wait_for_job(api, project, await queue(api, project, test_id), ("completed",), 60)
    suite = await api.post(
        "/api/suites",
        json={"name": "Nightly", "test_ids": [quick, broken, slow]},
        headers=project.headers,
    )
    queued = await api.post(
        f"/api/execution/suite/{suite.json()['id']}/run", headers=project.headers
    )
    body = queued.json()
    suite_run_id = body["suiteRunId"]
    assert [job["testId"] for job in body["jobs"]] == [broken, slow, quick], (
        "never passed first (its length unknown), then the longest by recent durations"
    )
    for job in body["jobs"]:
        await wait_for_job(api, project, job["jobId"], ("completed", "failed"), 90)

    seen = (await api.get(f"/api/suite-runs/{suite_run_id}", headers=project.headers)).json()
    assert (seen["suiteName"], seen["state"], seen["progress"]) == ("Nightly", "failed", 100)
    assert (seen["counts"]["completed"], seen["counts"]["failed"]) == (2, 1)
    assert [run["testName"] for run in seen["runs"]] == ["failing", "slow", "quick"]
    assert seen["wallTimeS"] > 1.5 and seen["finishedOn"] is not None
    report = await api.get(f"/api/suite-runs/{suite_run_id}/junit.xml", headers=project.headers)
    root = ElementTree.fromstring(report.content)
    assert root.get("name") == "Nightly" and root.get("tests") == "3"

    retried = await api.post(f"/api/suite-runs/{suite_run_id}/retry", headers=project.headers)
    assert retried.status_code == 200, retried.text
    [again] = retried.json()["jobs"]
    assert again["testId"] == broken and retried.json()["suiteRunId"] == suite_run_id
    await wait_for_job(api, project, again["jobId"], ("failed",), 60)
    after = (await api.get(f"/api/suite-runs/{suite_run_id}", headers=project.headers)).json()
    assert [run["jobId"] for run in after["runs"]][0] == again["jobId"], "the retry in its place"
    assert after["retried"] == [body["jobs"][0]["jobId"]]
    assert (after["counts"]["completed"], after["counts"]["failed"]) == (2, 1)

    unknown = await api.get("/api/suite-runs/suite-run-nope", headers=project.headers)
    assert unknown.status_code == 404
