"""GET /health: no token; 200 when the database and Temporal answer, 503 otherwise."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 3


class Health(BaseModel):
    """What the service can reach."""

    status: str
    database: str
    temporal: str


async def _check(probe) -> str:  # type: ignore[no-untyped-def]
    try:
        await asyncio.wait_for(probe(), timeout=CHECK_TIMEOUT_S)
    except Exception as error:  # any failure to reach it means "unavailable"
        return f"unavailable: {type(error).__name__}"
    return "ok"


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(services: ServicesDep) -> JSONResponse:
    """Report whether the API reaches its database and Temporal."""

    async def database() -> None:
        async with services.engine.connect() as connection:
            await connection.execute(text("select 1"))

    async def temporal() -> None:
        client = await services.temporal.client()
        await client.service_client.check_health()

    body = Health(status="ok", database=await _check(database), temporal=await _check(temporal))
    healthy = body.database == body.temporal == "ok"
    body.status = "ok" if healthy else "degraded"
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
