"""`python -m devstack`: the whole service on one machine with embedded defaults.

Starts the Temporal dev server (Web UI on 8233, SQLite under the data folder) unless one
already answers at TEMPORAL_ADDRESS, a local Redis unless one is configured, then the worker
processes, the dispatcher and the API, and supervises
them: a worker that dies is started again; Ctrl-C or SIGTERM drains and stops everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from core.config import Settings, get_settings
from core.hardening import prepare_service_process
from core.logs import configure_logging
from devstack.allocator import environ_with_jemalloc
from devstack.demo import allow_demo_site, demo_url, serve_demo_site
from devstack.processes import spawn
from devstack.redis_server import ensure_redis
from devstack.temporal_server import dev_server_command, start_dev_server, wait_until_serving
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
    return parser.parse_args()


async def temporal_answers(address: str) -> bool:
    try:
        await wait_until_serving(address, timeout_s=1)
    except TimeoutError:
        return False
    return True


async def ensure_temporal(settings: Settings) -> subprocess.Popen[bytes] | None:
    """Start the dev server when nothing answers at TEMPORAL_ADDRESS; return its process."""
    if await temporal_answers(settings.temporal_address):
        log.info("using the Temporal server at %s", settings.temporal_address)
        return None
    host, _, port = settings.temporal_address.rpartition(":")
    data = Path(settings.data_dir)
    command = dev_server_command(int(port), UI_PORT, data / "temporal.db", ip=host or "127.0.0.1")
    process = start_dev_server(command, data / "temporal.log", niceness=BACKGROUND_NICENESS)
    await wait_until_serving(settings.temporal_address)
    log.info(
        "Temporal dev server on %s, Web UI on http://%s:%d",
        settings.temporal_address,
        host,
        UI_PORT,
    )
    return process


def start_worker(index: int) -> subprocess.Popen[bytes]:
    """Worker `index`, serving its metrics on WORKER_METRICS_PORT + index (default 9464 + i)."""
    port = int(os.environ.get("WORKER_METRICS_PORT") or WORKER_METRICS_PORT) + index
    env = {**without_api_secrets(os.environ), "WORKER_METRICS_PORT": str(port)}
    command = [sys.executable, "worker.py"]
    return spawn(command, cwd=REPO_ROOT, niceness=BACKGROUND_NICENESS, env=env)


def start_dispatcher() -> subprocess.Popen[bytes]:
    env = without_api_secrets(os.environ)
    command = [sys.executable, "dispatcher.py"]
    return spawn(command, cwd=REPO_ROOT, niceness=BACKGROUND_NICENESS, env=env)


API_ONLY_SECRETS = ("ADMIN_TOKEN",)
"""Secrets only the API uses: workers (which run tenants' browsers) never receive them."""


def without_api_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment for a worker or the dispatcher."""
    return {name: value for name, value in environ.items() if name not in API_ONLY_SECRETS}


def start_api(settings: Settings, processes: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_service_app"]
    command += ["--host", "127.0.0.1", "--port", str(settings.port), "--log-level", "warning"]
    command += ["--workers", str(processes), "--loop", "uvloop", "--http", "httptools"]
    return spawn(command, cwd=REPO_ROOT, env=environ_with_jemalloc())


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
    temporal = await ensure_temporal(settings)
    redis = await ensure_redis(settings)
    with serve_demo_site():
        os.environ["EGRESS_ALLOW"] = allow_demo_site(settings.egress_allow)
        workers = [start_worker(i) for i in range(args.workers)]
        dispatcher = start_dispatcher()
        os.environ["DISPATCH_IN_API"] = "false"  # the dispatcher process does it
        api = start_api(settings, args.api_processes)
        log.info("API on http://127.0.0.1:%d, demo pages on %s", settings.port, demo_url())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        exit_code = 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1)
            if temporal is not None and temporal.poll() is not None:
                log.error(
                    "the Temporal dev server exited; see %s",
                    Path(settings.data_dir) / "temporal.log",
                )
                exit_code = 1
                break
            if api.poll() is not None:
                log.error("the API exited with %s", api.returncode)
                exit_code = 1
                break
            for i, worker in enumerate(workers):
                if worker.poll() is not None:
                    log.warning(
                        "worker %d exited with %s; starting it again", worker.pid, worker.returncode
                    )
                    workers[i] = start_worker(i)
            if dispatcher.poll() is not None:
                log.warning(
                    "the dispatcher exited with %s; starting it again", dispatcher.returncode
                )
                dispatcher = start_dispatcher()
        log.info("stopping: draining workers")
        for process in [*workers, dispatcher, api]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*workers, dispatcher, api]:
            await asyncio.to_thread(_wait_or_kill, process, settings.drain_timeout_s + 10)
        for service in (temporal, redis):
            if service is not None:
                service.send_signal(signal.SIGTERM)
                await asyncio.to_thread(_wait_or_kill, service, 15)
    return exit_code


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
