"""A throwaway PostgreSQL server from Debian's packages, for the test suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devstack.multihost import postgres_binary

SUPERUSER = "postgres"


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` user then."""
    return ["runuser", "-u", SUPERUSER, "--", *command] if os.geteuid() == 0 else command


@contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """Start a server on 127.0.0.1:port with a database `service`; yield its URL."""
    base = Path(tempfile.mkdtemp(prefix="pg-test-"))
    base.chmod(0o755)
    data = base / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(data, SUPERUSER, SUPERUSER)
        shutil.chown(base, SUPERUSER, SUPERUSER)

    def run(command: list[str]) -> None:
        subprocess.run(command, check=True, capture_output=True)

    run(
        _as_server_user(
            [postgres_binary("initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER]
        )
    )
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        _as_server_user(
            [
                postgres_binary("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-w",
                "-l",
                str(base / "server.log"),
                "start",
            ]
        ),
    )
    try:
        run(
            [
                postgres_binary("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                SUPERUSER,
                "service",
            ]
        )
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/service"
    finally:
        subprocess.run(
            _as_server_user(
                [postgres_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
