"""CPU time per part of the running service (Temporal, Redis, API, dispatcher, worker, its
browser), so that a benchmark can say where its machine CPU went, not only how much.

Start the service first (scripts/serve), then, for its idle CPU:
python -m bench.process_cpu [--seconds 60]"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict

import psutil

ROLES = (
    ("temporal", "Temporal server"),
    ("redis-server", "Redis"),
    ("uvicorn", "API"),
    ("dispatcher.py", "dispatcher"),
    ("worker.py", "worker (Python)"),
    ("postgres", "PostgreSQL"),
)
BROWSER = "worker's browser (driver, Chromium)"


def _role(process: psutil.Process) -> str | None:
    """What part of the service a process is, from its command line and its parents."""
    try:
        line = " ".join(process.cmdline())
        parents = process.parents()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    for needle, role in ROLES:
        if needle in line and "playwright" not in line:
            return role
    for parent in parents:
        try:
            if "worker.py" in " ".join(parent.cmdline()):
                return BROWSER
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def _seconds(process: psutil.Process) -> float:
    """The process's CPU time, with its children that exited (Chromium's renderers)."""
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def snapshot() -> dict[int, tuple[str, float]]:
    """Each service process's role and CPU seconds so far, by pid."""
    found: dict[int, tuple[str, float]] = {}
    for process in psutil.process_iter():
        role = _role(process)
        if role is None:
            continue
        try:
            found[process.pid] = (role, _seconds(process))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def used_between(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds per role between two snapshots (a process born meanwhile counts from 0)."""
    used: dict[str, float] = defaultdict(float)
    for pid, (role, seconds) in after.items():
        used[role] += seconds - before.get(pid, (role, 0.0))[1]
    return used


def report(used: dict[str, float], runs: int) -> str:
    """One line per role, the largest first: CPU seconds in all and milliseconds per run."""
    lines = [
        f"  {role:40}{seconds:7.2f} s{seconds / runs * 1000:7.0f} ms/run"
        for role, seconds in sorted(used.items(), key=lambda item: -item[1])
    ]
    return "\n".join(lines)


SERVICE_ROLES = ("API", "dispatcher", "worker (Python)", BROWSER)
"""The service's own processes, whose idle CPU has a target (Temporal's server has not)."""


def idle(seconds: float) -> str:
    """Each part's CPU over `seconds` of a running service with nothing queued, in percent of
    one core, and the service's own (API, dispatcher, worker with its browser) against 2 %."""
    before = snapshot()
    time.sleep(seconds)
    used = used_between(before, snapshot())
    lines = [
        f"  {role:40}{cpu / seconds * 100:6.2f} %"
        for role, cpu in sorted(used.items(), key=lambda item: -item[1])
    ]
    service = sum(used.get(role, 0.0) for role in SERVICE_ROLES) / seconds * 100
    lines.append(f"API + dispatcher + worker: {service:.2f} % of a core (target < 2 %)")
    return "\n".join([f"idle CPU over {seconds:.0f} s, nothing queued:", *lines])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Idle CPU of the running service.")
    parser.add_argument("--seconds", type=float, default=60.0)
    print(idle(parser.parse_args().seconds))
