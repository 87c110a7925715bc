"""Waiting for quiet before a measurement, so that the aftermath of the one before (Temporal
starting or cancelling its workflows) is not billed to the next."""

from __future__ import annotations

import argparse
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


SERVICE_PARTS = {
    "dispatcher": lambda command: command[1:2] == ["dispatcher.py"],
    "API": lambda command: "uvicorn" in command,
    "worker": lambda command: command[1:2] == ["worker.py"],
    "Temporal": lambda command: "start-dev" in command,
    "Redis": lambda command: bool(command) and "redis-server" in command[0],
}
"""The processes of `scripts/serve` by what their command line says."""


def service_processes() -> dict[str, list[psutil.Process]]:
    """Each part's processes on this machine (a worker with its Chromium, the API with its
    worker processes)."""
    found: dict[str, list[psutil.Process]] = {part: [] for part in SERVICE_PARTS}
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        for part, matches in SERVICE_PARTS.items():
            if matches(command):
                found[part].append(process)
                found[part] += process.children(recursive=True)
    return found


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def main() -> None:
    """Idle CPU of a running `scripts/serve` with nothing queued: each part's CPU over 60 s,
    in percent of one core; Temporal's and Redis's own idle beside it (the floor)."""
    parser = argparse.ArgumentParser(prog="python -m bench.idle")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    parts = service_processes()
    before = {part: cpu_seconds(processes) for part, processes in parts.items()}
    time.sleep(args.seconds)
    used = {part: cpu_seconds(parts[part]) - before[part] for part in parts}
    percent = {part: 100 * seconds / args.seconds for part, seconds in used.items()}
    print(f"idle CPU over {args.seconds:.0f} s, percent of one core")
    for part, value in percent.items():
        print(f"  {part:10} {value:5.2f} %  ({len(parts[part])} processes)")
    ours = sum(percent[part] for part in ("dispatcher", "API", "worker"))
    print(
        f"API + dispatcher + worker: {ours:.2f} % (target < 2 %); "
        f"Temporal {percent['Temporal']:.2f} %, Redis {percent['Redis']:.2f} % beside it"
    )


if __name__ == "__main__":
    main()
