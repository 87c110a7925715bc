"""/health reports every component and what it means for runs; /health/live only answers."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from api.routes.health import NOT_CONFIGURED, OK, as_seen_here, dispatcher_state, status_of
from core.config import Settings
from core.process_names import process_name
from dispatch.dispatcher import LEASE_S
from store.admission import Lease
from store.db import create_engine
from store.models import WorkerSlots, utcnow
from store.workers import STALE_AFTER, Census, WorkerRegistry
from tests.support.processes import name_of_an_ended_process


async def test_health_reports_each_component_and_the_workers_capacity(
    api: httpx.AsyncClient,
) -> None:
    response = await api.get("/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok", body
    for component in ("database", "temporal", "redis", "dispatcher"):
        assert body[component] == "ok", body
    assert body["workers"]["live"] >= 1 and body["workers"]["lost"] == 0
    assert body["workers"]["capacity"] >= 2
    assert 0 <= body["workers"]["sessions_in_use"] <= body["workers"]["capacity"]


async def test_a_worker_lost_without_withdrawing_makes_the_service_degraded(
    api: httpx.AsyncClient, api_settings: Settings
) -> None:
    engine = create_engine(api_settings.database_url)
    registry = WorkerRegistry(engine)
    lost = f"lost-{uuid.uuid4().hex[:6]}"
    async with registry.session() as session:
        silent_since = utcnow() - STALE_AFTER - timedelta(seconds=1)
        session.add(WorkerSlots(worker_id=lost, max_sessions=2, heartbeat_at=silent_since))
        await session.commit()
    try:
        response = await api.get("/health")
        assert response.status_code == 200, "runs still flow: degraded, not down"
        body = response.json()
        assert body["status"] == "degraded", body
        assert body["workers"]["lost"] == 1
    finally:
        await registry.remove(lost)
        await engine.dispose()
    assert (await api.get("/health")).json()["status"] == "ok"


async def test_the_liveness_probe_only_answers(api: httpx.AsyncClient) -> None:
    response = await api.get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def census(live: int, lost: int = 0) -> Census:
    def worker(name: str) -> WorkerSlots:
        return WorkerSlots(worker_id=name, max_sessions=2, heartbeat_at=utcnow())

    return Census(
        live=[worker(f"live-{i}") for i in range(live)],
        lost=[worker(f"lost-{i}") for i in range(lost)],
    )


def test_status_is_down_when_no_run_can_start_and_degraded_when_runs_flow_with_a_gap() -> None:
    away = "unavailable: ConnectionError"
    assert status_of(OK, OK, OK, OK, census(1)) == "ok"
    assert status_of(OK, OK, NOT_CONFIGURED, OK, census(1)) == "ok"
    assert status_of(OK, OK, away, OK, census(1)) == "degraded"
    assert status_of(OK, OK, OK, OK, census(1, lost=1)) == "degraded"
    assert status_of(away, OK, OK, OK, census(1)) == "down"
    assert status_of(OK, away, OK, OK, census(1)) == "down"
    assert status_of(OK, OK, OK, "no dispatcher holds the lease", census(1)) == "down"
    assert status_of(OK, OK, OK, OK, census(0, lost=1)) == "down"
    assert status_of(away, OK, OK, OK, None) == "down"


def test_the_dispatcher_is_down_when_its_process_exited_or_its_lease_went_stale() -> None:
    fresh = utcnow() + timedelta(seconds=LEASE_S)
    assert dispatcher_state(Lease(process_name("dispatcher"), fresh)) == OK
    assert "exited" in dispatcher_state(Lease(name_of_an_ended_process(), fresh))
    assert "not renewed" in dispatcher_state(Lease(process_name("dispatcher"), utcnow()))
    assert dispatcher_state(None) == "no dispatcher holds the lease"


def test_a_worker_of_this_machine_whose_process_is_gone_counts_as_lost_at_once() -> None:
    beating = WorkerSlots(worker_id=process_name("worker"), max_sessions=2, heartbeat_at=utcnow())
    gone = WorkerSlots(
        worker_id=name_of_an_ended_process("worker"), max_sessions=2, heartbeat_at=utcnow()
    )
    seen = as_seen_here(Census(live=[beating, gone], lost=[]))
    assert seen.live == [beating] and seen.lost == [gone]
    assert status_of(OK, OK, OK, OK, seen) == "degraded"
