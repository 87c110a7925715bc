"""`python -m devstack`: the whole service on one machine with embedded defaults.

Starts the Temporal dev server (Web UI on 8233, SQLite under the data folder) unless one
already answers at TEMPORAL_ADDRESS, a local Redis unless one is configured, then the worker
processes, the dispatcher and the API, and supervises them (devstack.supervisor): any child
that exits is started again with backoff, and a Temporal or Redis that was already there is
watched, not restarted; Ctrl-C or SIGTERM drains and stops everything in order.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path

from core.config import Settings, get_settings
from core.hardening import prepare_service_process
from core.logs import configure_logging
from devstack.allocator import environ_with_jemalloc
from devstack.demo import allow_demo_site, demo_url, serve_demo_site
from devstack.processes import spawn
from devstack.redis_server import ensure_redis
from devstack.supervisor import Adopted, Child, keep_up
from devstack.temporal_server import dev_server_command, start_dev_server, wait_until_serving
from live.bell import connect_bell
from store.db import migrate

log = logging.getLogger("devstack")
REPO_ROOT = Path(__file__).resolve().parent.parent
UI_PORT = 8233
WORKER_METRICS_PORT = 9464


BACKGROUND_NICENESS = 5
"""Temporal and the workers yield the CPU to the API when the machine is contended: people
waiting for an answer go first (a burst of 10,000 queued runs keeps both busy for minutes)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--api-processes", type=int, default=1, help="API server processes (default 1)"
    )
    parser.add_argument(
        "--ui-port", type=int, default=UI_PORT, help="the Temporal Web UI's port (default 8233)"
    )
    return parser.parse_args()


async def temporal_answers(address: str) -> bool:
    try:
        await wait_until_serving(address, timeout_s=1)
    except TimeoutError:
        return False
    return True


async def ensure_temporal(settings: Settings, ui_port: int) -> Child | Adopted:
    """Start the dev server when nothing answers at TEMPORAL_ADDRESS (a supervised child);
    adopt the server that answers otherwise."""
    address = settings.temporal_address
    if await temporal_answers(address):
        log.info("using the Temporal server at %s", address)
        return Adopted("Temporal", partial(temporal_answers, address))
    host, _, port = address.rpartition(":")
    data = Path(settings.data_dir)
    command = dev_server_command(int(port), ui_port, data / "temporal.db", ip=host or "127.0.0.1")
    log_file = data / "temporal.log"
    server = Child(
        "the Temporal dev server",
        partial(start_dev_server, command, log_file, niceness=BACKGROUND_NICENESS),
        hint=str(log_file),
    )
    server.launch()
    await wait_until_serving(address)
    log.info("Temporal dev server on %s, Web UI on http://%s:%d", address, host, ui_port)
    return server


def start_worker(index: int) -> subprocess.Popen[bytes]:
    """Worker `index`, serving its metrics on WORKER_METRICS_PORT + index (default 9464 + i)."""
    port = int(os.environ.get("WORKER_METRICS_PORT") or WORKER_METRICS_PORT) + index
    env = {**without_api_secrets(os.environ), "WORKER_METRICS_PORT": str(port)}
    command = [sys.executable, "worker.py"]
    return spawn(command, cwd=REPO_ROOT, niceness=BACKGROUND_NICENESS, env=env)


def start_dispatcher() -> subprocess.Popen[bytes]:
    env = {**without_api_secrets(os.environ), "DISPATCH_IN_API": "false"}
    command = [sys.executable, "dispatcher.py"]
    return spawn(command, cwd=REPO_ROOT, niceness=BACKGROUND_NICENESS, env=env)


API_ONLY_SECRETS = ("ADMIN_TOKEN",)
"""Secrets only the API uses: workers (which run tenants' browsers) never receive them."""


def without_api_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for a worker or the dispatcher."""
    return {name: value for name, value in environ.items() if name not in API_ONLY_SECRETS}


GRACEFUL_SHUTDOWN_S = 5
"""How long a stopping API waits for open responses: event streams (dashboards, `events`
followers) never end by themselves; their browsers reconnect to the next API."""


def start_api(settings: Settings, processes: int) -> subprocess.Popen[bytes]:
    """The API processes; the dispatcher process admits runs, so they do not."""
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_service_app"]
    command += ["--host", "127.0.0.1", "--port", str(settings.port), "--log-level", "warning"]
    command += ["--workers", str(processes), "--loop", "uvloop", "--http", "httptools"]
    command += ["--timeout-graceful-shutdown", str(GRACEFUL_SHUTDOWN_S)]
    env = {**environ_with_jemalloc(), "DISPATCH_IN_API": "false"}
    return spawn(command, cwd=REPO_ROOT, env=env)


def ensure_admin_token(settings: Settings) -> None:
    """Without ADMIN_TOKEN, make one in the data folder and hand it to the API."""
    if settings.admin_token:
        return
    path = Path(settings.data_dir) / "admin.token"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    os.environ["ADMIN_TOKEN"] = path.read_text().strip()
    log.info("admin token (ADMIN_TOKEN was not set) is in %s", path)


async def supervise(args: argparse.Namespace) -> int:
    settings = get_settings()
    prepare_service_process(settings, admin_token_used=True)
    ensure_admin_token(settings)
    migrate(settings.database_url)
    temporal = await ensure_temporal(settings, args.ui_port)
    redis = await ensure_redis(settings)
    backing = [part for part in (temporal, redis) if isinstance(part, Child)]
    adopted = [part for part in (temporal, redis) if isinstance(part, Adopted)]
    with serve_demo_site():
        os.environ["EGRESS_ALLOW"] = allow_demo_site(settings.egress_allow)
        bell = connect_bell(Settings())  # Redis is known now: REDIS_URL
        services = [
            Child(f"worker {i}", partial(start_worker, i), on_exit=bell.ring)
            for i in range(args.workers)
        ]
        services.append(Child("the dispatcher", start_dispatcher))
        services.append(Child("the API", partial(start_api, settings, args.api_processes)))
        for child in services:
            child.launch()
        log.info("API on http://127.0.0.1:%d, demo pages on %s", settings.port, demo_url())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await keep_up([*backing, *services], adopted, stop)
        log.info("stopping: draining workers")
        await stop_in_order(services, settings.drain_timeout_s + 10)
        await bell.close()
        await stop_in_order(backing, 15)
    return 0


async def stop_in_order(children: list[Child], timeout_s: float) -> None:
    """SIGTERM to every running child, then wait for each (killed after `timeout_s`)."""
    running = [process for child in children if (process := child.running()) is not None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        await asyncio.to_thread(_wait_or_kill, process, timeout_s)


def _wait_or_kill(process: subprocess.Popen[bytes], timeout: float) -> None:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    os.chdir(REPO_ROOT)  # before the settings are read: .env is looked for here
    configure_logging()
    sys.exit(asyncio.run(supervise(parse_args())))


if __name__ == "__main__":
    main()
