"""Prometheus metrics: the API's queue and capacity gauges, each worker's own over HTTP."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from core.config import Settings
from runner.host import WorkerHost
from tests.api.jobs import create_test, queue, wait_for_stored_state
from tests.api.queue_helpers import wait_test
from tests.conftest import free_port
from tests.support.api_fixtures import ADMIN_TOKEN, new_project
from tests.support.definitions import flaky_test
from tests.support.runs import until_no_context_is_open, until_no_run_is_underway


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample by (name, labels)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_api_metrics_show_queue_depth_per_project_and_priority(
    live: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(live)
    assert (await live.get("/metrics", headers=project.headers)).status_code == 401
    await live.post("/api/execution/queue/pause", headers=project.headers)
    test_id = await create_test(live, project, wait_test(pages_url, 10))
    for route in ("run", "run", "run-live"):
        await live.post(f"/api/execution/test/{test_id}/{route}", headers=project.headers)

    scraped = await live.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert scraped.status_code == 200
    found = samples(scraped.text)
    labels = {"project": str(project.id)}
    assert found[("testrun_queue_depth", frozenset({**labels, "priority": "regular"}.items()))] == 2
    assert found[("testrun_queue_depth", frozenset({**labels, "priority": "live"}.items()))] == 1
    assert found[("testrun_project_paused", frozenset(labels.items()))] == 1
    assert found[("testrun_session_capacity", frozenset())] >= 2


async def test_worker_serves_its_own_metrics_of_steps_retries_and_outcomes(
    live: httpx.AsyncClient, worker_host: WorkerHost, pages_url: str, settings: Settings
) -> None:
    port = free_port()
    worker_host.metrics.serve(port)
    url = f"http://127.0.0.1:{port}/metrics"

    async def scrape() -> dict[tuple[str, frozenset], float]:
        async with httpx.AsyncClient() as client:
            return samples((await client.get(url)).text)

    await until_no_context_is_open(worker_host.pool)  # earlier tests' runs would count too
    await until_no_run_is_underway(settings.database_url)  # ... and record their outcome after
    before = await scrape()
    project = await new_project(live)
    job_id = await queue(live, project, await create_test(live, project, flaky_test(pages_url)))
    await wait_for_stored_state(live, project, job_id, "completed")
    after = await scrape()

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0) - before.get(key, 0)

    assert grew("testrun_runs_total", outcome="completed") == 1
    assert grew("testrun_runs_flaky_total") == 1
    assert grew("testrun_step_retries_total", action="navigate") == 1
    assert grew("testrun_step_duration_seconds_count", action="assert") == 1
    assert grew("testrun_run_duration_seconds_count", outcome="completed") == 1
    worker = {"worker": worker_host.worker_id}
    assert after[("testrun_worker_sessions_capacity", frozenset(worker.items()))] == 2
    assert ("testrun_worker_sessions_active", frozenset(worker.items())) in after
