"""GET /health: no token; 200 when Temporal answers, 503 otherwise."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """What the service can reach."""

    status: str
    temporal: str


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
async def health(request: Request) -> JSONResponse:
    """Report whether the API reaches Temporal."""
    try:
        client = await request.app.state.temporal.client()
        await asyncio.wait_for(client.service_client.check_health(), timeout=3)
        temporal = "ok"
    except Exception as error:  # any failure to reach Temporal is "unavailable"
        temporal = f"unavailable: {type(error).__name__}"
    ok = temporal == "ok"
    body = Health(status="ok" if ok else "degraded", temporal=temporal)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
