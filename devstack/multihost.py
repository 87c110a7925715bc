"""`python -m devstack.multihost`: the service as several hosts on one machine (root only).

The compose shape, in network namespaces (devstack.netns), each process started with the
settings a real deployment uses (addresses, not loopback):

- *data*: PostgreSQL, the Temporal server (dev server, SQLite file) and Redis; the demo pages;
- *api*: the API and the dispatcher;
- *worker-1*, *worker-2*: one worker each, WORKER_MAX_SESSIONS=2.

The hosts share this machine's disk (as hosts share a volume for artifacts), not its network:
each reaches the others at their addresses only. Ctrl-C removes everything.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

from core.codec import new_key_entry
from devstack.netns import Host, Topology, wait_for_port
from devstack.postgres_server import pg_ctl, start_postgres
from devstack.temporal_server import dev_server_command
from store.db import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_PORT, TEMPORAL_PORT, REDIS_PORT, PAGES_PORT, API_PORT = 5432, 7233, 6379, 8001, 8000
WORKER_HOSTS = ("worker-1", "worker-2")
SESSIONS_PER_WORKER = 2


@dataclass
class MultiHostService:
    """The running hosts, their folder and how to reach the API and the data host."""

    net: Topology
    folder: Path
    environment: dict[str, str]
    admin_token: str

    @property
    def data(self) -> Host:
        return self.net.hosts["data"]

    @property
    def api(self) -> Host:
        return self.net.hosts["api"]

    @property
    def api_url(self) -> str:
        return f"http://{self.api.address}:{API_PORT}"

    @property
    def pages_url(self) -> str:
        return f"http://{self.data.address}:{PAGES_PORT}/"

    @property
    def database_url(self) -> str:
        return self.environment["DATABASE_URL"]

    @property
    def temporal_address(self) -> str:
        return self.environment["TEMPORAL_ADDRESS"]

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def start_worker(self, host: Host) -> None:
        """The host's worker (as its service manager starts it at boot)."""
        env = {**self.environment, "WORKER_MAX_SESSIONS": str(SESSIONS_PER_WORKER)}
        env["DATA_DIR"] = str(self.folder / host.name)
        argv = [sys.executable, "worker.py"]
        host.start(argv, env, self.log(host.name), cwd=REPO_ROOT)

    def start_api_host(self) -> None:
        """The API and the dispatcher on the api host."""
        api = [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_service_app"]
        api += ["--host", self.api.address, "--port", str(API_PORT), "--log-level", "warning"]
        env = {**self._dispatching_environment(), "ADMIN_TOKEN": self.admin_token}
        self.api.start(api, env, self.log("api"), REPO_ROOT)
        self.start_dispatcher_on(self.api)

    def start_dispatcher_on(self, host: Host) -> None:
        """A dispatcher on `host` (a second one waits for the first one's lease to run out)."""
        dispatcher = [sys.executable, "dispatcher.py"]
        env = self._dispatching_environment()
        host.start(dispatcher, env, self.log(f"dispatcher-{host.name}"), cwd=REPO_ROOT)

    def _dispatching_environment(self) -> dict[str, str]:
        """The API's and the dispatchers' settings: the dispatcher runs in its own process."""
        return {
            **self.environment,
            "DISPATCH_IN_API": "false",
            "DATA_DIR": str(self.folder / "api"),
        }

    def redis_process(self) -> subprocess.Popen[bytes]:
        """The Redis server's process on the data host."""
        return next(p for p in self.data.processes if "redis-server" in str(p.args))

    def restart_postgres(self) -> None:
        """Restart PostgreSQL on the data host (fast shutdown: connections are cut)."""
        restart = pg_ctl(self.folder / "postgres", "-m", "fast", "-w", "restart")
        subprocess.run(self.data.command(*restart), check=True, capture_output=True)


def start_data_host(host: Host, folder: Path, subnet: str, redis_password: str) -> str:
    """PostgreSQL, Temporal, Redis (with a password, as Redis wants off loopback) and the
    demo pages on the data host; the database URL."""
    url = start_postgres(
        folder / "postgres", host.address, POSTGRES_PORT, subnet, lambda argv: host.command(*argv)
    )
    env = dict(os.environ)
    # every interface of the host: the dev server's own services call each other on loopback
    temporal = dev_server_command(TEMPORAL_PORT, None, folder / "temporal.db", ip="0.0.0.0")
    host.start(temporal, env, folder / "temporal.log")
    redis = [shutil.which("redis-server") or "redis-server", "--bind", host.address]
    redis += ["--port", str(REDIS_PORT), "--requirepass", redis_password]
    redis += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
    host.start(redis, env, folder / "redis.log")
    pages = [sys.executable, "-m", "http.server", "--bind", host.address, str(PAGES_PORT)]
    pages += ["--directory", str(REPO_ROOT / "examples" / "site")]
    host.start(pages, env, folder / "pages.log")
    for port in (TEMPORAL_PORT, REDIS_PORT, PAGES_PORT):
        wait_for_port(host.address, port)
    return url


def start_service(net: Topology, folder: Path, admin_token: str | None = None) -> MultiHostService:
    """Every host of the shape, started and answering."""
    data = net.add("data")
    api = net.add("api")
    workers = [net.add(name) for name in WORKER_HOSTS]
    subnet = f"{data.address.rsplit('.', 1)[0]}.0/24"
    redis_password = secrets.token_urlsafe(24)
    database_url = start_data_host(data, folder, subnet, redis_password)
    migrate(database_url)
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": f"{data.address}:{TEMPORAL_PORT}",
        "REDIS_URL": f"redis://:{redis_password}@{data.address}:{REDIS_PORT}/0",
        "SECRET_KEY": Fernet.generate_key().decode(),
        "PAYLOAD_KEYS": new_key_entry("k1"),
        "EGRESS_ALLOW": f"{data.address}:{PAGES_PORT}",
        "ARTIFACTS_DIR": str(folder / "artifacts"),
        "UPLOADS_DIR": str(folder / "uploads"),
        "PUBLIC_URL": f"http://{api.address}:{API_PORT}",
        "WORKER_METRICS_PORT": "9464",
        "LOG_FORMAT": "json",
    }
    token = admin_token or secrets.token_urlsafe(32)
    service = MultiHostService(net, folder, environment, token)
    service.start_api_host()
    for host in workers:
        service.start_worker(host)
    wait_for_port(api.address, API_PORT)
    return service


def new_folder() -> Path:
    """A folder for the hosts' files (PostgreSQL's own user keeps its data below it)."""
    folder = Path(tempfile.mkdtemp(prefix="multihost-"))
    folder.chmod(0o755)
    return folder


def main() -> int:
    folder = new_folder()
    with Topology() as net:
        service = start_service(net, folder)
        print(f"API {service.api_url} (admin token {service.admin_token})")
        print(f"demo pages {service.pages_url}; logs in {folder}")
        for host in net.hosts.values():
            print(f"  {host.name:9} {host.address:15} ip netns exec {host.namespace} ...")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
