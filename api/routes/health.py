"""GET /health: every component and what its state means for runs; GET /health/live: the
process answers (for orchestrators). No token on either.

`ok`: everything answers. `degraded` (still 200): runs flow, but something is missing (Redis:
no live events; a worker lost without withdrawing). `down` (503): no run can start (the
database, Temporal, the dispatcher or every worker is missing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import ServicesDep
from core.process_names import gone_from_here
from dispatch.dispatcher import RENEWED_WITHIN_S, silent_for
from store.admission import Lease
from store.workers import Census, WorkerRegistry, gone_here

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 3
OK = "ok"
NOT_CONFIGURED = "not configured"


class WorkersHealth(BaseModel):
    """The workers as their heartbeats tell."""

    live: int
    lost: int
    """Workers that stopped heartbeating without withdrawing, in the last 30 s."""
    capacity: int
    sessions_in_use: int


class Health(BaseModel):
    """Each component's state (`ok` or why not) and the service's status."""

    status: Literal["ok", "degraded", "down"]
    database: str
    temporal: str
    redis: str
    dispatcher: str
    workers: WorkersHealth | None


class Live(BaseModel):
    status: Literal["ok"] = "ok"


async def _check(probe: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(probe(), timeout=CHECK_TIMEOUT_S)
    except Exception as error:  # any failure to reach it means "unavailable"
        return f"unavailable: {type(error).__name__}"
    return OK


def dispatcher_state(lease: Lease | None) -> str:
    """`ok` while a live dispatcher renews its lease, else why not."""
    if lease is None:
        return "no dispatcher holds the lease"
    if gone_from_here(lease.holder):
        return "the dispatcher holding the lease has exited"
    silent_s = silent_for(lease.until)
    if silent_s > RENEWED_WITHIN_S:
        return f"the dispatcher has not renewed its lease for {silent_s:.0f} s"
    return OK


def as_seen_here(census: Census) -> Census:
    """The census, with workers of this machine whose process is gone counted as lost (their
    heartbeats would tell only seconds later)."""
    gone = gone_here(census.live)
    live = [worker for worker in census.live if worker not in gone]
    return Census(live=live, lost=[*census.lost, *gone])


def status_of(
    database: str, temporal: str, redis: str, dispatcher: str, workers: Census | None
) -> Literal["ok", "degraded", "down"]:
    """`down` when no run can start, `degraded` when runs flow with something missing."""
    if any(state != OK for state in (database, temporal, dispatcher)) or not (
        workers and workers.live
    ):
        return "down"
    if redis not in (OK, NOT_CONFIGURED) or workers.lost:
        return "degraded"
    return "ok"


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(services: ServicesDep) -> JSONResponse:
    """Every component's state; 200 when runs can start (ok or degraded), 503 when not."""

    async def database() -> None:
        async with services.engine.connect() as connection:
            await connection.execute(text("select 1"))

    async def temporal() -> None:
        client = await services.temporal.client()
        await client.service_client.check_health()

    async def redis() -> str:
        if services.streams is None:
            return NOT_CONFIGURED
        return await _check(services.streams.redis.ping)

    database_state, temporal_state, redis_state = await asyncio.gather(
        _check(database), _check(temporal), redis()
    )
    census: Census | None = None
    dispatcher = "unknown: the database is unavailable"
    if database_state == OK:
        census = as_seen_here(await WorkerRegistry(services.engine).census())
        dispatcher = dispatcher_state(await services.admission.lease())
    body = Health(
        status=status_of(database_state, temporal_state, redis_state, dispatcher, census),
        database=database_state,
        temporal=temporal_state,
        redis=redis_state,
        dispatcher=dispatcher,
        workers=None
        if census is None
        else WorkersHealth(
            live=len(census.live),
            lost=len(census.lost),
            capacity=census.capacity,
            sessions_in_use=census.sessions_in_use,
        ),
    )
    return JSONResponse(body.model_dump(), status_code=503 if body.status == "down" else 200)


@router.get("/health/live", response_model=Live)
async def live() -> Live:
    """The API process answers; nothing else is checked."""
    return Live()
