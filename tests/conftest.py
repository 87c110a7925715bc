"""Fixtures: a real Temporal dev server, real Chromium in a real worker, and the test pages."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography.fernet import Fernet
from temporalio.client import Client

from core.codec import new_key_entry
from core.config import Settings
from core.temporal import connect
from devstack.temporal_server import dev_server_command, start_dev_server, wait_until_serving
from runner.host import WorkerHost
from store.db import migrate
from tests.support.pages import serve_test_pages
from tests.support.receiver import Receiver, webhook_receiver
from tests.support.redis import RedisServer
from workflows.messages import NO_PROJECT

pytest_plugins = ["tests.support.api_fixtures"]
"""The API, its projects and a browser for the dashboard: fixtures of the API, dispatcher and
CLI tests, which live beside the packages they test."""

ISOLATED_NAMESPACE = "isolated"
"""A second namespace, for tests that run their own worker processes."""
POSTGRES_NAMESPACE = "postgres"
"""A third, for the worker that records into PostgreSQL."""
FUZZ_NAMESPACE = "fuzz"
"""No worker polls it: runs that fuzzing queues never execute."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
async def temporal_address(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A Temporal dev server of its own for this test session."""
    port = free_port()
    log_file = tmp_path_factory.mktemp("temporal") / "server.log"
    command = dev_server_command(
        port, None, None, namespaces=(ISOLATED_NAMESPACE, POSTGRES_NAMESPACE, FUZZ_NAMESPACE)
    )
    process = start_dev_server(command, log_file)
    address = f"127.0.0.1:{port}"
    try:
        await wait_until_serving(address)
        yield address
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="session")
def pages_url() -> Iterator[str]:
    """Base URL of tests/pages, served on 127.0.0.1."""
    with serve_test_pages() as url:
        yield url


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real Redis server for this test session."""
    server = RedisServer(free_port(), tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback, which EGRESS_ALLOW lets deliveries reach."""
    with webhook_receiver() as serving:
        yield serving


@pytest.fixture(scope="session")
def settings(
    temporal_address: str,
    redis_server: RedisServer,
    pages_url: str,
    receiver: Receiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Settings:
    """Settings pointing at the session's Temporal and temporary folders; runs' browsers may
    reach the test pages and nothing else on this machine (deliveries: the test receiver);
    webhook retries wait 0.2 s, then twice as long each time."""
    data = tmp_path_factory.mktemp("data")
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        temporal_address=temporal_address,
        data_dir=data,
        artifacts_dir=data / "artifacts",
        uploads_dir=data / "uploads",
        secret_key=Fernet.generate_key().decode(),
        payload_keys=new_key_entry("test-1"),
        worker_max_sessions=2,
        drain_timeout_s=5,
        database_url=f"sqlite:///{data / 'service.db'}",
        redis_url=redis_server.url,
        egress_allow=f"{urlsplit(pages_url).netloc},{receiver.netloc}",
        webhook_retry_initial_s=0.2,
        webhook_timeout_s=5,
    )


@pytest.fixture(scope="session")
async def client(settings: Settings) -> Client:
    """A Temporal client with the service's data converter."""
    return await connect(settings)


@pytest.fixture(scope="session")
async def worker_host(client: Client, settings: Settings) -> AsyncIterator[WorkerHost]:
    """One in-process worker (WORKER_MAX_SESSIONS=2) for the whole session."""
    migrate(settings.database_url)
    host = WorkerHost(client, settings)
    await host.start()
    yield host
    await host.stop()


@pytest.fixture
def job_id() -> str:
    """A fresh workflow ID."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def uploads(settings: Settings) -> Path:
    """The upload folder of runs started outside the service (NO_PROJECT)."""
    folder = Path(settings.uploads_dir) / str(NO_PROJECT)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
