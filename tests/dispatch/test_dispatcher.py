"""Queueing does not wait on Temporal: a run queued while Temporal is away starts later."""

from __future__ import annotations

import httpx

from api.app import create_app
from core.temporal_link import TemporalLink
from dispatch.dispatcher import Dispatcher
from store.db import create_engine
from tests.api.jobs import create_test, wait_for_job
from tests.support.api_fixtures import ProjectAccess
from tests.support.definitions import shop_test


async def test_a_run_queued_while_temporal_is_down_starts_when_it_is_back(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, api_settings
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    cut_off = create_app(api_settings.model_copy(update={"temporal_address": "127.0.0.1:1"}))
    async with cut_off.router.lifespan_context(cut_off):
        transport = httpx.ASGITransport(app=cut_off)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as lonely:
            queued = await lonely.post(
                f"/api/execution/test/{test_id}/run", headers=project.headers
            )
            assert queued.status_code == 200, queued.text
            assert queued.json()["position"] == 1
            health = await lonely.get("/health")
            assert health.status_code == 503 and health.json()["temporal"].startswith("unavailable")
    job_id = queued.json()["jobId"]
    waiting = await wait_for_job(api, project, job_id, ("waiting", "active", "completed"))
    assert waiting["state"] in ("waiting", "active", "completed")

    engine = create_engine(api_settings.database_url)
    dispatcher = Dispatcher.build(engine, TemporalLink(api_settings))
    await dispatcher.start_workflows_once()
    await dispatcher.admit_once()
    await engine.dispose()
    done = await wait_for_job(api, project, job_id, ("completed", "failed"))
    assert done["state"] == "completed"
