"""The API served by uvicorn inside the test's event loop: real HTTP streaming and
WebSockets, which the in-memory ASGI transport cannot show."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import uvicorn
from httpx_sse import aconnect_sse

from api.app import create_app
from core.config import Settings
from tests.conftest import free_port
from tests.support.api_fixtures import ProjectAccess


@contextlib.asynccontextmanager
async def served(settings: Settings, port: int | None = None) -> AsyncIterator[str]:
    """The app on a loopback port (a free one unless given); its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=2,  # open event streams do not end by themselves
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + 30
    while not server.started:
        if task.done():
            task.result()
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the app did not start within 30 s")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def read_events(
    client: httpx.AsyncClient,
    path: str,
    project: ProjectAccess,
    last_event_id: str | None = None,
    stop_when: Callable[[list[dict[str, Any]]], bool] | None = None,
) -> list[dict[str, Any]]:
    """SSE events of `path` as {"id", "event", "data"}, until the stream ends (or `stop_when`
    the events so far say so)."""
    headers = dict(project.headers)
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    events: list[dict[str, Any]] = []
    async with aconnect_sse(client, "GET", path, headers=headers) as source:
        source.response.raise_for_status()
        async for sse in source.aiter_sse():
            if not sse.data:  # the `retry:` advice comes alone
                continue
            events.append({"id": sse.id or None, "event": sse.event, "data": sse.json()})
            if stop_when is not None and stop_when(events):
                break
    return events
