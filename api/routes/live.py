"""Live progress: Server-Sent Events and WebSockets, per job and per project.

Every event carries its stream ID; a client that reconnects with it (`Last-Event-ID` for SSE,
`?lastEventId=` for both) gets everything after it. A job's stream ends with the run's final
event. While Redis is unavailable the routes send `snapshot` events of the stored state
instead, and go back to the stream when Redis answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ServicesDep, StreamingProjectDep, project_for_token
from api.errors import ApiError
from api.routes.execution import find_run_and_position
from api.services import Services
from live.events import job_stream, project_stream
from live.follow import Snapshot, follow
from store.models import Project

router = APIRouter(prefix="/api/execution", tags=["live progress"])
SSE_RETRY_MS = 2000
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/event-stream": {}},
        "description": "Events as `id`, `event` and JSON `data` lines",
    },
    404: {"description": "No such job in the caller's project"},
}
LastEventHeader = Annotated[str | None, Header(alias="Last-Event-ID")]
LastEventQuery = Annotated[
    str | None,
    Query(
        alias="lastEventId",
        pattern=r"^\d{1,20}-\d{1,20}$",
        description="resume after this event",
    ),
]


def job_snapshot(services: Services, project: Project, job_id: str) -> Snapshot:
    """The run's stored state (no Temporal query), for when the stream cannot answer."""

    async def read() -> dict[str, Any] | None:
        async with AsyncSession(services.engine, expire_on_commit=False) as session:
            try:
                run, position = await find_run_and_position(session, project, job_id)
            except ApiError:
                return None
        return {
            "jobId": run.job_id,
            "state": run.state,
            "position": position,
            "progress": run.progress,
            "error": run.error,
        }

    return read


def project_snapshot(services: Services, project: Project) -> Snapshot:
    """The project's queue counts."""

    async def read() -> dict[str, Any] | None:
        assert project.id is not None
        async with AsyncSession(services.engine, expire_on_commit=False) as session:
            return {"queue": await services.queue.counts(session, project.id)}

    return read


def valid_event_id(value: str | None) -> str | None:
    if value is None:
        return None
    major, _, minor = value.partition("-")
    if not (major.isdigit() and minor.isdigit()) or len(value) > 41:
        raise ApiError(422, "invalid_event_id", f"Last-Event-ID {value!r} is not a stream ID")
    return value


async def sse(
    services: Services, key: str, last_id: str | None, snapshot: Snapshot, ends: bool
) -> AsyncIterator[bytes]:
    yield f"retry: {SSE_RETRY_MS}\n\n".encode()
    async for item in follow(services.streams, key, last_id, snapshot, ends):
        if item.kind == "keepalive":
            yield b": keep-alive\n\n"
            continue
        lines = [f"id: {item.id}"] if item.id else []
        lines += [f"event: {item.kind}", f"data: {json.dumps(item.data)}"]
        yield ("\n".join(lines) + "\n\n").encode()


def stream(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=STREAM_HEADERS)


@router.get("/job/{job_id}/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def job_events(
    job_id: str,
    project: StreamingProjectDep,
    services: ServicesDep,
    last_event_header: LastEventHeader = None,
    last_event_query: LastEventQuery = None,
) -> StreamingResponse:
    """The run's events as Server-Sent Events, from its first (or after Last-Event-ID) to its
    final one. (No database connection is held while it streams.)"""
    async with AsyncSession(services.engine, expire_on_commit=False) as session:
        await find_run_and_position(session, project, job_id)
    last_id = valid_event_id(last_event_header or last_event_query)
    snapshot = job_snapshot(services, project, job_id)
    return stream(sse(services, job_stream(job_id), last_id, snapshot, ends=True))


@router.get("/events", response_class=StreamingResponse, responses=SSE_RESPONSE)
async def project_events(
    project: StreamingProjectDep,
    services: ServicesDep,
    last_event_header: LastEventHeader = None,
    last_event_query: LastEventQuery = None,
) -> StreamingResponse:
    """Every event of every run of the project, as Server-Sent Events, until the client leaves."""
    last_id = valid_event_id(last_event_header or last_event_query)
    snapshot = project_snapshot(services, project)
    return stream(sse(services, project_stream(str(project.id)), last_id, snapshot, ends=False))


async def _authorised(websocket: WebSocket, services: Services) -> Project | None:
    """The project of the token in the Authorization header or `?token=`; closes with 4401."""
    header = websocket.headers.get("authorization", "")
    token = (
        header.removeprefix("Bearer ").strip() if header else websocket.query_params.get("token")
    )
    async with AsyncSession(services.engine, expire_on_commit=False) as session:
        project = await project_for_token(session, token)
    if project is None:
        await websocket.close(code=4401, reason="a valid project token is required")
    return project


async def _send_all(
    websocket: WebSocket, services: Services, key: str, snapshot: Snapshot, ends: bool
) -> None:
    last_id = websocket.query_params.get("lastEventId")
    try:
        last_id = valid_event_id(last_id)
    except ApiError as invalid:
        await websocket.close(code=4422, reason=str(invalid.detail))
        return
    try:
        async for item in follow(services.streams, key, last_id, snapshot, ends):
            await websocket.send_json({"id": item.id, "event": item.kind, "data": item.data})
    except (WebSocketDisconnect, RuntimeError, OSError):  # the client left
        return
    await websocket.close(code=1000, reason="the run ended")


@router.websocket("/job/{job_id}/ws")
async def job_websocket(websocket: WebSocket, job_id: str) -> None:
    """The run's events as JSON messages `{"id", "event", "data"}`; closes after the final one.

    Token: `Authorization: Bearer ...` or `?token=`; resume with `?lastEventId=`."""
    services: Services = websocket.app.state.services
    await websocket.accept()
    project = await _authorised(websocket, services)
    if project is None:
        return
    snapshot = job_snapshot(services, project, job_id)
    if await snapshot() is None:
        await websocket.close(code=4404, reason=f"job {job_id} not found")
        return
    await _send_all(websocket, services, job_stream(job_id), snapshot, ends=True)


@router.websocket("/ws")
async def project_websocket(websocket: WebSocket) -> None:
    """Every event of the project's runs as JSON messages, until the client leaves."""
    services: Services = websocket.app.state.services
    await websocket.accept()
    project = await _authorised(websocket, services)
    if project is None:
        return
    key = project_stream(str(project.id))
    await _send_all(websocket, services, key, project_snapshot(services, project), ends=False)
