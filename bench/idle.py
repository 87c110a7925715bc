"""Waiting for quiet before a measurement, so that the aftermath of the one before (Temporal
starting or cancelling its workflows) is not billed to the next."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil


def temporal_server() -> psutil.Process | None:
    """The Temporal dev server process, if it runs on this machine."""
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "temporal":
            return process
    return None


def machine_cpu(interval: float) -> float:
    """The whole machine's CPU use over `interval` seconds, in percent of one core."""
    return psutil.cpu_percent(interval=interval) * (psutil.cpu_count() or 1)


def settle(
    cpu: Callable[[float], float], below: float, quiet_s: int = 5, timeout_s: float = 600
) -> float:
    """Wait until `cpu` (percent of one core, measured over 1 s) has stayed under `below` for
    `quiet_s` seconds in a row; return the seconds waited."""
    started = time.perf_counter()
    quiet = 0
    while quiet < quiet_s and time.perf_counter() - started < timeout_s:
        quiet = quiet + 1 if cpu(1.0) < below else 0
    return time.perf_counter() - started
