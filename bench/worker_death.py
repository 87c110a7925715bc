"""A worker SIGKILLed under load: how soon its runs' loss is noticed and they start again.

Start the service first (`scripts/serve --workers 1` or `--workers 2`; WORKER_MAX_SESSIONS 2),
then:  python -m bench.worker_death

A project with max_parallel = every session queues 20 runs of about 3 s while paused, resumes,
and once every worker holds sessions, one worker process is SIGKILLed (the service command
starts a new one). From the runs' results (each session attempt's worker, open and loss times):
- detection: a lost session's loss time minus the kill;
- restart: the same run's next session opening minus the kill;
- the other worker: its slot time left free from the kill until the last run started (runs
  wait all along, so admissions to it never pausing means none; the dead worker's replacement
  counts as another worker). `--no-kill` measures the same without the kill: what the
  refills between runs leave free anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time

import httpx
import psutil

from bench.burst import paused_project
from bench.refill import moment
from core.run_state import FINAL_STATES
from devstack.demo import demo_url

RUNS = 20


def worker_processes() -> list[psutil.Process]:
    """The service's worker processes (started as `python worker.py`)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        command = process.info["cmdline"] or []
        if len(command) >= 2 and command[1] == "worker.py":
            found.append(process)
    return found


def idle_slot_seconds(
    busy: list[tuple[float, float]], slots: int, start: float, end: float, step: float = 0.01
) -> float:
    """Slot-seconds left free between start and end, given when sessions held slots."""
    idle, moment_ = 0.0, start
    while moment_ < end:
        held = sum(1 for opened, closed in busy if opened <= moment_ < closed)
        idle += max(slots - held, 0) * step
        moment_ += step
    return idle


async def main(base_url: str, sessions: int, kill: bool) -> None:
    workers = worker_processes()
    definition = {
        "name": "about three seconds",
        "start_url": demo_url() + "shop.html",
        "steps": [
            {"action": "click", "selector": "#buy"},
            {"action": "wait", "value": 2500},
            {"action": "assert", "selector": "#total", "value": "42"},
        ],
    }
    headers, test_id, _ = await paused_project(base_url, "worker-death", definition)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as api:
        slots = sessions * len(workers)
        await api.patch("/api/projects/me", json={"max_parallel": slots}, headers=headers)
        route = f"/api/execution/test/{test_id}/run"
        jobs = [(await api.post(route, headers=headers)).json()["jobId"] for _ in range(RUNS)]
        await api.post("/api/execution/queue/resume", headers=headers)
        while (await api.get("/api/execution/queue/status", headers=headers)).json()["queue"][
            "active"
        ] < slots:
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # every session is inside its steps
        victim = workers[0]
        killed_at = time.time()
        if kill:
            os.kill(victim.pid, signal.SIGKILL)
        while True:
            queue = (await api.get("/api/execution/queue/status", headers=headers)).json()["queue"]
            if sum(queue[state] for state in FINAL_STATES) >= RUNS:
                break
            await asyncio.sleep(0.5)
        results = [
            (await api.get(f"/api/execution/job/{job}", headers=headers)).json()["job"]
            for job in jobs
        ]
    attempts = [a for job in results for a in (job["result"] or {}).get("session_attempts", [])]
    lost = [a for a in attempts if a.get("lost_at")]
    detection = [moment(a["lost_at"]) - killed_at for a in lost]
    restarts = []
    for job in results:
        tries = job["result"]["session_attempts"]
        for before, after in zip(tries, tries[1:], strict=False):
            if before.get("lost_at"):
                restarts.append(moment(after["opened_at"]) - killed_at)
    dead = {a["worker_id"] for a in attempts if f"-{victim.pid}-" in a["worker_id"]}
    survivors = {a["worker_id"] for a in attempts if moment(a["opened_at"]) < killed_at} - dead
    busy = [  # each run's last session on a worker that lived through the kill: its slot time
        (moment(job["result"]["session_attempts"][-1]["opened_at"]), moment(job["finishedOn"]))
        for job in results
        if job["result"]["session_attempts"][-1]["worker_id"] in survivors
    ]
    last_start = max(moment(a["opened_at"]) for a in attempts)
    failed = sum(job["state"] != "completed" for job in results)
    what = "worker death" if kill else "no worker killed (baseline)"
    print(f"{what}, {len(workers)} workers x {sessions} sessions, {RUNS} runs of ~3 s")
    print(f"runs completed {RUNS - failed}/{RUNS}; sessions lost with the worker: {len(lost)}")
    if detection:
        print(f"loss noticed after the kill: max {max(detection):.1f} s (target <= 10 s)")
        print(f"lost runs started again after the kill: max {max(restarts):.1f} s (target <= 15)")
    if len(workers) > 1:
        slots = sessions * (len(workers) - 1)
        idle = idle_slot_seconds(busy, slots, killed_at, last_start)
        print(
            f"free slot time of the other worker, from the kill (or the moment it would have "
            f"come) to the last run's start (runs waiting all along): {idle:.1f} slot-s of "
            f"{slots * (last_start - killed_at):.1f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--sessions", type=int, default=2, help="WORKER_MAX_SESSIONS")
    parser.add_argument(
        "--no-kill",
        action="store_true",
        help="the same load without the kill: the other worker's free slot time from refills",
    )
    args = parser.parse_args()
    asyncio.run(main(args.url, args.sessions, kill=not args.no_kill))
