"""A private Temporal dev server and in-process worker for benchmarks."""

from __future__ import annotations

import contextlib
import socket
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from temporalio.client import Client

from core.config import Settings
from core.temporal import CLEAR_CONVERTER, connect
from devstack.redis_server import start_redis
from devstack.temporal_server import dev_server_command, start_dev_server, wait_until_serving
from runner.host import WorkerHost
from store.db import migrate


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def bench_stack(
    max_sessions: int,
    pages_url: str,
    also_allow: str = "",
    clear_payloads: bool = False,
    **more: object,
) -> AsyncIterator[tuple[Client, WorkerHost]]:
    """A dev server and a Redis on free ports, and one worker with `max_sessions` slots whose
    runs may reach the pages at `pages_url` (and `also_allow`), with `more` settings; with
    `clear_payloads`, histories keep their payloads in clear (no codec)."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        data = Path(folder)
        redis_port = _free_port()
        redis = await start_redis(redis_port, data)
        port = _free_port()
        server = start_dev_server(
            dev_server_command(port, None, data / "temporal.db"), data / "temporal.log"
        )
        try:
            await wait_until_serving(f"127.0.0.1:{port}")
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                temporal_address=f"127.0.0.1:{port}",
                data_dir=data,
                artifacts_dir=data / "artifacts",
                uploads_dir=data / "uploads",
                secret_key=Fernet.generate_key().decode(),
                worker_max_sessions=max_sessions,
                database_url=f"sqlite:///{data / 'service.db'}",
                redis_url=f"redis://127.0.0.1:{redis_port}/0",
                egress_allow=",".join(filter(None, [urlsplit(pages_url).netloc, also_allow])),
                **more,  # type: ignore[arg-type]
            )
            migrate(settings.database_url)
            client = (
                await Client.connect(settings.temporal_address, data_converter=CLEAR_CONVERTER)
                if clear_payloads
                else await connect(settings)
            )
            host = WorkerHost(client, settings)
            await host.start()
            try:
                yield client, host
            finally:
                await host.stop()
        finally:
            server.terminate()
            server.wait(timeout=20)
            redis.terminate()
            redis.wait(timeout=10)
