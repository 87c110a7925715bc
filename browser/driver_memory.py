"""The size of this process's Playwright driver (a Node.js child process), so that a worker
can start a fresh driver when a hostile page has left the old one big (Node's heap rarely
gives memory back)."""

from __future__ import annotations

import contextlib

import psutil

MIB = 1024 * 1024
DRIVER_SCRIPT = "/driver/package/cli.js"


def driver_pids() -> set[int]:
    """Playwright drivers started by this process."""
    found = set()
    for child in psutil.Process().children(recursive=False):
        with contextlib.suppress(psutil.Error):
            if any(part.endswith(DRIVER_SCRIPT) for part in child.cmdline()):
                found.add(child.pid)
    return found


def rss_mib(pid: int | None) -> float:
    """Resident size of a process in MiB (0 if it is gone or unknown)."""
    if pid is None:
        return 0.0
    try:
        return psutil.Process(pid).memory_info().rss / MIB
    except psutil.Error:
        return 0.0
