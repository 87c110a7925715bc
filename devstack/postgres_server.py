"""A PostgreSQL server from Debian's packages, kept under one folder (tests, devstack.multihost)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

SUPERUSER = "postgres"


def postgres_binary(name: str) -> str:
    """A PostgreSQL server program (the newest version installed)."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name} not found: apt-get install postgresql")
    return found[-1]


def as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` user then."""
    return ["runuser", "-u", SUPERUSER, "--", *command] if os.geteuid() == 0 else command


def pg_ctl(base: Path, *args: str) -> list[str]:
    """`pg_ctl ARGS` for the server kept under `base` (its data in base/data, its log in
    base/server.log), as the server's user."""
    data, log = str(base / "data"), str(base / "server.log")
    return as_server_user([postgres_binary("pg_ctl"), "-D", data, "-l", log, *args])


def start_postgres(
    base: Path,
    address: str,
    port: int,
    trusted: str | None = None,
    inside: Callable[[list[str]], list[str]] = lambda command: command,
) -> str:
    """A new server kept under `base`, listening on address:port (the server started through
    `inside`, a network namespace say), trusting local connections and the network `trusted`,
    with a database `service`; its URL."""
    data = base / "data"
    data.mkdir(parents=True)
    base.chmod(0o755)
    if os.geteuid() == 0:
        for path in (base, data):
            shutil.chown(path, SUPERUSER, SUPERUSER)

    def run(command: list[str]) -> None:
        subprocess.run(command, check=True, capture_output=True)

    run(
        as_server_user([postgres_binary("initdb"), "-D", str(data), "-A", "trust", "-U", SUPERUSER])
    )
    if trusted is not None:
        with (data / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {trusted} trust\n")
    options = f"-p {port} -k {base} -c listen_addresses={address} -c fsync=off"
    run(inside(pg_ctl(base, "-o", options, "-w", "start")))
    createdb = [postgres_binary("createdb"), "-h", address, "-p", str(port), "-U", SUPERUSER]
    run([*createdb, "service"])
    return f"postgresql://{SUPERUSER}@{address}:{port}/service"
