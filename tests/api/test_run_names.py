"""Runs carry their test's and suite's names; the run list finds them by name, state, suite and
schedule, and says in one line why a run did not pass."""

from __future__ import annotations

import httpx

from tests.api.jobs import create_test, job, wait_for_stored_state
from tests.support.api_fixtures import ProjectAccess
from tests.support.definitions import shop_test


async def runs(api: httpx.AsyncClient, project: ProjectAccess, **params: str | int) -> list[dict]:
    response = await api.get("/api/runs", params=params, headers=project.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_runs_keep_the_names_they_were_queued_under_and_are_found_by_them(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    checkout = await create_test(api, project, {**shop_test(pages_url), "name": "Checkout works"})
    broken = shop_test(pages_url, {"action": "click", "selector": "#nope"}, step_timeout_ms=300)
    broken.update(name="Broken 100% [beta]", retry={"max_attempts": 1})
    broken_id = await create_test(api, project, broken)
    suite = await api.post(
        "/api/suites",
        json={"name": "Nightly", "test_ids": [checkout, broken_id]},
        headers=project.headers,
    )
    queued = await api.post(
        f"/api/execution/suite/{suite.json()['id']}/run", headers=project.headers
    )
    good_job, bad_job = (j["jobId"] for j in queued.json()["jobs"])
    await wait_for_stored_state(api, project, good_job, "completed")
    failed = await wait_for_stored_state(api, project, bad_job, "failed")

    assert (failed["testName"], failed["suiteName"]) == ("Broken 100% [beta]", "Nightly")
    assert failed["reason"] == failed["error"].splitlines()[0]
    assert "no element matches '#nope'" in failed["reason"]
    status = await job(api, project, good_job)
    assert (status["testName"], status["suiteName"]) == ("Checkout works", "Nightly")

    renamed = {**shop_test(pages_url), "name": "Checkout still works"}
    await api.put(f"/api/tests/{checkout}", json=renamed, headers=project.headers)
    [stored] = await runs(api, project, test_id=checkout)
    assert stored["testName"] == "Checkout works", "a rename does not rewrite runs made"

    assert [r["jobId"] for r in await runs(api, project, name="CHECKOUT")] == [good_job]
    assert [r["jobId"] for r in await runs(api, project, name="100%")] == [bad_job]
    assert [r["jobId"] for r in await runs(api, project, name="[beta]")] == [bad_job]
    assert await runs(api, project, name="_") == [], "LIKE's wildcards are text here"
    assert [r["jobId"] for r in await runs(api, project, state="failed")] == [bad_job]
    both = await runs(api, project, suite_id=suite.json()["id"])
    assert {r["jobId"] for r in both} == {good_job, bad_job}
    assert [r["jobId"] for r in await runs(api, project, limit=1, offset=1)] == [good_job]
    assert (await runs(api, project, name="checkout", state="failed")) == []

    counts = (await api.get("/api/execution/queue/status", headers=project.headers)).json()
    assert {k: counts["queue"][k] for k in ("completed", "failed", "cancelled", "timed_out")} == {
        "completed": 1,
        "failed": 1,
        "cancelled": 0,
        "timed_out": 0,
    }, "each state its own count, as the dashboard shows them"


async def test_a_suite_is_edited_in_place_and_its_runs_keep_the_name_they_had(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    first = await create_test(api, project, {**shop_test(pages_url), "name": "first"})
    second = await create_test(api, project, {**shop_test(pages_url), "name": "second"})
    made = await api.post(
        "/api/suites", json={"name": "Smoke", "test_ids": [first]}, headers=project.headers
    )
    suite_id = made.json()["id"]
    queued = await api.post(f"/api/execution/suite/{suite_id}/run", headers=project.headers)
    [job_id] = [j["jobId"] for j in queued.json()["jobs"]]
    changed = await api.put(
        f"/api/suites/{suite_id}",
        json={"name": "Smoke, both", "test_ids": [second, first]},
        headers=project.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["test_ids"] == [second, first]
    assert (await job(api, project, job_id))["suiteName"] == "Smoke"
    refused = await api.put(
        f"/api/suites/{suite_id}", json={"name": "x", "test_ids": [999999]}, headers=project.headers
    )
    assert refused.status_code == 422 and "999999" in refused.json()["detail"]
    kept = (await api.get(f"/api/suites/{suite_id}", headers=project.headers)).json()
    assert (kept["name"], kept["test_ids"]) == ("Smoke, both", [second, first]), "nothing lost"
