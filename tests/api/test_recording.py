"""A run's result is stored once, even when the recording activity runs again; the recording
activities stop their background retention when they close."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import event, text

from activities.store import RETENTION_EVERY_S, StoreActivities
from live.publisher import EventPublisher
from store.db import create_engine
from store.retention import Retention
from store.runs import RunStore
from tests.api.jobs import create_test, wait_for_stored_state
from tests.support.api_fixtures import ProjectAccess
from tests.support.definitions import shop_test
from workflows.messages import RunFinished


async def completed_run(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> tuple[str, dict]:
    """A run of the shop test, once it is stored as completed: (its job id, the stored run)."""
    test_id = await create_test(api, project, shop_test(pages_url))
    queued = await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)
    job_id = queued.json()["jobId"]
    return job_id, await wait_for_stored_state(api, project, job_id, "completed")


def store_activities(engine, api_settings) -> StoreActivities:  # type: ignore[no-untyped-def]
    return StoreActivities(
        RunStore(engine), Retention(engine, api_settings.artifacts_dir), EventPublisher(None)
    )


async def test_recording_the_result_again_stores_it_once(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, api_settings
) -> None:
    job_id, stored = await completed_run(api, project, pages_url)
    engine = create_engine(api_settings.database_url)
    activities = store_activities(engine, api_settings)
    for _ in range(2):  # a retried activity, or a second delivery of the same event
        assert await activities.record_finished(RunFinished(job_id=job_id, result=stored["result"]))
    async with engine.connect() as connection:
        rows = (
            await connection.execute(text("select state from run where job_id = :j"), {"j": job_id})
        ).all()
    await activities.close()
    await engine.dispose()
    assert [row.state for row in rows] == ["completed"]
    again = (await api.get(f"/api/runs/{job_id}", headers=project.headers)).json()
    assert again["result"] == stored["result"] and again["finishedOn"] == stored["finishedOn"]


async def test_closed_store_activities_open_no_connection_for_their_retention(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, api_settings
) -> None:
    job_id, stored = await completed_run(api, project, pages_url)
    engine = create_engine(api_settings.database_url)
    connects: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda *_: connects.append(1))
    activities = store_activities(engine, api_settings)
    finished = RunFinished(job_id=job_id, result=stored["result"])
    assert await activities.record_finished(finished)  # schedules the project's retention
    await activities.close()
    await engine.dispose()
    opened = len(connects)
    await asyncio.sleep(RETENTION_EVERY_S + 1)
    assert len(connects) == opened, "the retention ran on a disposed engine after close"
