"""A run's result is stored once, even when the recording activity runs again."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from activities.store import StoreActivities
from live.publisher import EventPublisher
from store.db import create_engine
from store.retention import Retention
from store.runs import RunStore
from tests.api.conftest import ProjectAccess
from tests.api.jobs import create_test, wait_for_stored_state
from tests.api.test_execution import shop_test
from workflows.messages import RunFinished


async def test_recording_the_result_again_stores_it_once(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, api_settings
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    job_id = (await api.post(f"/api/execution/test/{test_id}/run", headers=project.headers)).json()[
        "jobId"
    ]
    stored = await wait_for_stored_state(api, project, job_id, "completed")

    engine = create_engine(api_settings.database_url)
    activities = StoreActivities(
        RunStore(engine), Retention(engine, api_settings.artifacts_dir), EventPublisher(None)
    )
    for _ in range(2):  # a retried activity, or a second delivery of the same event
        assert await activities.record_finished(RunFinished(job_id=job_id, result=stored["result"]))
    async with engine.connect() as connection:
        rows = (
            await connection.execute(text("select state from run where job_id = :j"), {"j": job_id})
        ).all()
    await engine.dispose()
    assert [row.state for row in rows] == ["completed"]
    again = (await api.get(f"/api/runs/{job_id}", headers=project.headers)).json()
    assert again["result"] == stored["result"] and again["finishedOn"] == stored["finishedOn"]
