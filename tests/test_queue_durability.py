"""Waiting runs and their order survive restarts of the API, a worker and the Temporal server."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from core.config import Settings
from core.temporal import connect
from devstack.temporal_server import dev_server_command, start_dev_server, wait_until_serving
from runner.host import WorkerHost
from store.db import migrate
from tests.api.queue_helpers import moment, queue_at_once, wait_test, wait_until_finished
from tests.conftest import free_port
from tests.support.api_fixtures import ProjectAccess

ADMIN = "admin-" + uuid.uuid4().hex


class Stack:
    """A Temporal dev server with its own database file, and the service's settings for it."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self.port = free_port()
        self.folder = folder
        self.settings = settings.model_copy(
            update={
                "temporal_address": f"127.0.0.1:{self.port}",
                "database_url": f"sqlite:///{folder / 'service.db'}",
                "admin_token": ADMIN,
                "worker_max_sessions": 1,
            }
        )
        self._server: subprocess.Popen[bytes] | None = None

    async def start_temporal(self) -> None:
        command = dev_server_command(self.port, None, self.folder / "temporal.db")
        self._server = start_dev_server(command, self.folder / "temporal.log")
        await wait_until_serving(self.settings.temporal_address)

    def stop_temporal(self) -> None:
        assert self._server is not None
        self._server.terminate()
        self._server.wait(timeout=30)

    @asynccontextmanager
    async def api(self) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(self.settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                yield client


@pytest.fixture
async def stack(tmp_path: Path, settings: Settings) -> AsyncIterator[Stack]:
    stack = Stack(tmp_path, settings)
    migrate(stack.settings.database_url)
    await stack.start_temporal()
    yield stack
    stack.stop_temporal()


async def current_positions(api: httpx.AsyncClient, headers: dict, jobs: list[str]) -> list:
    answers = [(await api.get(f"/api/execution/job/{j}", headers=headers)).json() for j in jobs]
    return [answer["job"]["position"] for answer in answers]


async def wait_until_materialised(client, jobs: list[str]) -> None:
    """Every waiting run has its workflow in Temporal (so a server restart must keep it)."""
    for job_id in jobs:
        for _ in range(200):
            try:
                await client.get_workflow_handle(job_id).describe()
                break
            except Exception:
                await asyncio.sleep(0.1)
        else:
            raise TimeoutError(f"workflow {job_id} never started")


async def test_positions_and_order_survive_restarts(stack: Stack, pages_url: str) -> None:
    async with stack.api() as api:
        created = await api.post(
            "/api/projects",
            json={"name": "durable", "max_parallel": 1},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        body = created.json()
        project = ProjectAccess(id=body["id"], name=body["name"], token=body["token"])
        test = await api.post(
            "/api/tests", json=wait_test(pages_url, 1500), headers=project.headers
        )
        test_id = test.json()["id"]
        await api.post("/api/execution/queue/pause", headers=project.headers)
        regular = await queue_at_once(api, project, test_id, 5)
        (live,) = await queue_at_once(api, project, test_id, 1, live=True)
        order = [live["jobId"]] + [r["jobId"] for r in sorted(regular, key=lambda r: r["position"])]
        assert await current_positions(api, project.headers, order) == [1, 2, 3, 4, 5, 6]
        await wait_until_materialised(await connect(stack.settings), order)

    async with stack.api() as api:  # the API restarted
        assert await current_positions(api, project.headers, order) == [1, 2, 3, 4, 5, 6]

    stack.stop_temporal()  # the Temporal server restarted, with its database file
    await stack.start_temporal()
    client = await connect(stack.settings)
    for job_id in order:
        assert (await client.get_workflow_handle(job_id).describe()).status is not None

    async with stack.api() as api:
        assert await current_positions(api, project.headers, order) == [1, 2, 3, 4, 5, 6]
        worker = WorkerHost(client, stack.settings)
        await worker.start()
        await api.post("/api/execution/queue/resume", headers=project.headers)
        await _wait_for_state(api, project.headers, order[0], "active")
        await worker.stop()  # the worker restarted while the first run was active
        assert await current_positions(api, project.headers, order[1:]) == [1, 2, 3, 4, 5]
        worker = WorkerHost(client, stack.settings)
        await worker.start()
        try:
            runs = await wait_until_finished(api, project, order, timeout=180)
        finally:
            await worker.stop()
    assert [runs[j]["state"] for j in order] == ["completed"] * 6
    finished = [moment(runs[j]["finishedOn"]) for j in order]
    assert finished == sorted(finished), "runs ended in their queue order (one slot)"


async def _wait_for_state(api: httpx.AsyncClient, headers: dict, job_id: str, state: str) -> None:
    for _ in range(300):
        answer = (await api.get(f"/api/execution/job/{job_id}", headers=headers)).json()
        if answer["job"]["state"] == state:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{job_id} never became {state}")
