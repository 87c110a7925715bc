"""Chaos: each child of a running service command SIGKILLed once, with runs in flight.

The service command (`python -m devstack --workers 2 --api-processes 2`, what `scripts/serve`
runs) gets ports and a data folder of its own; the test pages come from this test process,
which nothing kills. After each kill: the child comes back by itself, /health said `degraded`
or `down` (or did not answer) meanwhile and says `ok` again, and no child of the killed process
outlives it (a worker's Chromium, uvicorn's worker processes); at the end every acknowledged
run is final, each ran as one workflow execution, no waiting run's position ever rose, and no
Chromium is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import httpx
import psutil
import pytest
from temporalio.client import Client

from core.config import Settings
from tests.conftest import free_port
from tests.support.definitions import shop_test, waiting_shop_test
from tests.support.receiver import HANG, Receiver

REPO = Path(__file__).resolve().parents[1]
FINAL = {"completed", "failed", "cancelled", "timed_out"}
RUNS_PER_KILL = 6
VICTIMS: dict[str, Callable[[list[str]], bool]] = {
    "temporal": lambda command: "start-dev" in command,
    "api": lambda command: "uvicorn" in command,
    "redis": lambda command: bool(command) and "redis-server" in command[0],
    "dispatcher": lambda command: command[1:2] == ["dispatcher.py"],
    "worker": lambda command: command[1:2] == ["worker.py"],
}


@dataclass
class Stack:
    """A running service command and how to reach it."""

    process: subprocess.Popen[bytes]
    base_url: str
    temporal_address: str
    admin_token: str
    log: Path
    database: Path
    chromium_seen: set[psutil.Process] = field(default_factory=set)

    def children(self, victim: str) -> list[psutil.Process]:
        """The live processes of one component (every worker for "worker")."""
        found = []
        for process in psutil.Process(self.process.pid).children():
            with contextlib.suppress(psutil.Error):
                if process.status() != psutil.STATUS_ZOMBIE and VICTIMS[victim](process.cmdline()):
                    found.append(process)
        return found

    def stop(self) -> None:
        """Ctrl-C, as a person stops it (killed if it has not stopped in 90 s)."""
        if self.process.poll() is not None:
            return
        self.note_chromium()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def replaced(self, victim: str, before: list[psutil.Process]) -> bool:
        """A process not there `before` does the dead one's job: a dispatcher holds the lease,
        a worker is registered and the dead one forgotten."""
        new = [process for process in self.children(victim) if process not in before]
        if not new:
            return False
        if victim == "dispatcher":
            return self.pids_in("select leader from queue_control") == {new[0].pid}
        if victim == "worker":
            registered = self.pids_in("select worker_id from worker_slots")
            return registered == {process.pid for process in self.children("worker")}
        return True

    def pids_in(self, query: str) -> set[int]:
        """Process ids in the identities a query finds (`<name>-<pid>-<random>`): the dispatcher
        lease's holder, the registered workers."""
        with sqlite3.connect(self.database) as database:
            rows = database.execute(query).fetchall()
        return {int(row[0].rsplit("-", 2)[1]) for row in rows if row[0]}

    def note_chromium(self) -> None:
        """Remember every Chromium process the service runs now."""
        for process in psutil.Process(self.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "chrom" in process.name() or "headless" in process.name():
                    self.chromium_seen.add(process)


def service_environment(
    folder: Path, pages_port: int, receiver_netloc: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The service command's environment (no setting of this test session leaks in) and the
    settings chosen for it."""
    ours = {
        "DATA_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'service.db'}",
        "ARTIFACTS_DIR": str(folder / "artifacts"),
        "UPLOADS_DIR": str(folder / "uploads"),
        "PORT": str(free_port()),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "REDIS_PORT": str(free_port()),
        "DEMO_PORT": str(free_port()),
        "WORKER_METRICS_PORT": str(free_port()),
        "ADMIN_TOKEN": "admin-" + uuid.uuid4().hex,
        "EGRESS_ALLOW": f"127.0.0.1:{pages_port},{receiver_netloc}",
        "WEBHOOK_RETRY_INITIAL_S": "0.5",
    }
    settings = {name.upper() for name in Settings.model_fields} | {"DEMO_PORT"}
    inherited = {name: value for name, value in os.environ.items() if name not in settings}
    return {**inherited, **ours}, ours


@pytest.fixture
async def stack(tmp_path: Path, pages_url: str, receiver: Receiver) -> AsyncIterator[Stack]:
    pages_port = int(pages_url.rstrip("/").rsplit(":", 1)[1])
    environment, ours = service_environment(tmp_path, pages_port, receiver.netloc)
    log = tmp_path / "service.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack", "--workers", "2", "--api-processes", "2"]
            + ["--ui-port", str(free_port())],
            cwd=REPO,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Stack(
        process,
        f"http://127.0.0.1:{ours['PORT']}",
        ours["TEMPORAL_ADDRESS"],
        ours["ADMIN_TOKEN"],
        log,
        tmp_path / "service.db",
    )
    try:
        assert await health_within(running, "ok", 120), log.read_text()[-3000:]
        yield running
    finally:
        running.stop()


async def health_of(stack: Stack) -> dict:
    """/health's answer, or {"status": "unreachable"}."""
    try:
        async with httpx.AsyncClient(base_url=stack.base_url, timeout=5) as client:
            return dict((await client.get("/health")).json())
    except (httpx.HTTPError, ValueError):
        return {"status": "unreachable"}


async def health_within(stack: Stack, wanted: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (await health_of(stack))["status"] == wanted:
            return True
        await asyncio.sleep(0.3)
    return False


@dataclass
class Outage:
    victim: str
    statuses: set[str]
    told_s: float | None
    """From the kill until /health first said something other than ok."""
    back_s: float
    """From the kill until the replacement process is there (for the dispatcher: holds the
    lease) and /health says ok."""


async def kill_and_watch(stack: Stack, victim: str) -> Outage:
    """SIGKILL one component; watch /health until it is replaced and the service is ok."""
    before = stack.children(victim)
    assert before, f"no {victim} process"
    process = before[0]
    descendants = process.children(recursive=True)  # a worker's Chromium, uvicorn's workers
    process.kill()
    killed = time.monotonic()
    statuses: set[str] = set()
    told_s = None
    while time.monotonic() - killed < 120:
        health = await health_of(stack)
        statuses.add(health["status"])
        if told_s is None and health["status"] != "ok":
            told_s = time.monotonic() - killed
        if health["status"] == "ok" and stack.replaced(victim, before):
            break
        await asyncio.sleep(0.05)  # outages of a second or less must not slip between looks
    back_s = time.monotonic() - killed
    left = still_running(descendants, within_s=20)
    assert not left, f"the killed {victim}'s child processes outlived it: {left}"
    return Outage(victim, statuses, told_s, back_s)


def still_running(processes: list[psutil.Process] | set[psutil.Process], within_s: float) -> list:
    """Those of `processes` still running (not zombies) after waiting up to `within_s`."""
    _, alive = psutil.wait_procs(list(processes), timeout=within_s)
    running = []
    for process in alive:
        with contextlib.suppress(psutil.Error):
            if process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


class Positions:
    """Every position a waiting run was seen at, in order."""

    def __init__(self) -> None:
        self.seen: dict[str, list[int]] = {}
        self.final: dict[str, str] = {}

    async def follow(self, api: httpx.AsyncClient, headers: dict[str, str], jobs: list[str]):  # type: ignore[no-untyped-def]
        while True:
            for job in [job for job in jobs if job not in self.final]:
                with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                    answer = await api.get(f"/api/execution/job/{job}", headers=headers)
                    if answer.status_code != 200:
                        continue
                    state = answer.json()["job"]
                    if state["position"] is not None:
                        self.seen.setdefault(job, []).append(state["position"])
                    if state["state"] in FINAL:
                        self.final[job] = state["state"]
            await asyncio.sleep(0.3)

    def risen(self) -> dict[str, list[int]]:
        return {
            job: positions
            for job, positions in self.seen.items()
            if any(later > earlier for earlier, later in pairwise(positions))
        }


@pytest.mark.timeout(900)
async def test_every_child_killed_once_comes_back_and_no_run_is_lost_or_doubled(
    stack: Stack, pages_url: str
) -> None:
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    definition = waiting_shop_test(pages_url, "about two seconds", 1500)
    positions = Positions()
    jobs: list[str] = []
    outages: list[Outage] = []
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as api:
        created = await api.post("/api/projects", json={"name": "chaos"}, headers=admin)
        assert created.status_code == 201, created.text
        headers = {"Authorization": f"Bearer {created.json()['token']}"}
        test = await api.post("/api/tests", json=definition, headers=headers)
        assert test.status_code == 201, test.text
        route = f"/api/execution/test/{test.json()['id']}/run"
        following = asyncio.create_task(positions.follow(api, headers, jobs))
        try:
            for victim in VICTIMS:
                for _ in range(RUNS_PER_KILL):
                    queued = await api.post(route, headers=headers)
                    assert queued.status_code == 200, queued.text
                    jobs.append(queued.json()["jobId"])
                await until_a_run_is_active(api, headers)
                stack.note_chromium()
                outages.append(await kill_and_watch(stack, victim))
            deadline = time.monotonic() + 300
            while len(positions.final) < len(jobs) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        finally:
            following.cancel()
    for outage in outages:
        print(
            f"{outage.victim}: /health told after {outage.told_s or 0:.1f} s, back in "
            f"{outage.back_s:.1f} s, /health said {sorted(outage.statuses)}"
        )
    print("final states:", Counter(positions.final.values()))
    for outage in outages:
        assert outage.statuses - {"ok"}, f"/health never told of the {outage.victim}'s loss"
        assert "ok" in outage.statuses, f"the {outage.victim} did not come back"
    unfinished = [job for job in jobs if job not in positions.final]
    assert not unfinished, f"{len(unfinished)} acknowledged runs never finished"
    assert set(positions.final.values()) == {"completed"}, "a kill made a passing test fail"
    assert not positions.risen(), f"positions rose: {positions.risen()}"
    await each_ran_as_one_execution(stack.temporal_address, jobs)
    stack.stop()
    assert stack.process.returncode == 0, stack.log.read_text()[-3000:]
    assert stack.chromium_seen, "no browser was ever seen: the check below would prove nothing"
    assert not still_running(stack.chromium_seen, within_s=10), "Chromium was left behind"


@pytest.mark.timeout(300)
async def test_a_worker_killed_mid_delivery_delivers_the_event_again_with_the_same_id(
    stack: Stack, pages_url: str, receiver: Receiver
) -> None:
    """Every worker SIGKILLed while a receiver holds a delivery open: once the workers are
    back, the delivery is made again (the receiver deduplicates by `id`), and no more."""
    admin = {"Authorization": f"Bearer {stack.admin_token}"}
    where = f"/hook/{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as api:
        created = await api.post("/api/projects", json={"name": "hooks"}, headers=admin)
        headers = {"Authorization": f"Bearer {created.json()['token']}"}
        hook = await api.post(
            "/api/webhooks", json={"url": receiver.answer(where, HANG, 200)}, headers=headers
        )
        assert hook.status_code == 201, hook.text
        test = await api.post("/api/tests", json=shop_test(pages_url), headers=headers)
        queued = await api.post(f"/api/execution/test/{test.json()['id']}/run", headers=headers)
        assert queued.status_code == 200, queued.text
        await asyncio.to_thread(receiver.wait_for, where, 1)  # held open by the receiver
        workers = stack.children("worker")
        for worker in workers:
            worker.kill()
        got = await asyncio.to_thread(receiver.wait_for, where, 2, 120)
        await asyncio.sleep(3)
    assert len(receiver.at(where)) == 2, "delivered again once, not more"
    first, again = (json.loads(g.body)["id"] for g in got)
    assert first == again == f"evt-{queued.json()['jobId']}"
    assert got[0].headers["X-Delivery-Id"] == got[1].headers["X-Delivery-Id"]


async def until_a_run_is_active(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            counts = (await api.get("/api/execution/queue/status", headers=headers)).json()
            if counts["queue"]["active"] > 0:
                return
        await asyncio.sleep(0.2)
    raise AssertionError("no run became active")


async def each_ran_as_one_execution(address: str, jobs: list[str]) -> None:
    """No run has two results: each jobId has exactly one TestRun execution, and it closed."""
    client = await Client.connect(address)
    for job in jobs:
        executions = [
            execution
            async for execution in client.list_workflows(
                f"WorkflowId = '{job}' AND WorkflowType = 'TestRun'"
            )
        ]
        assert len(executions) == 1, f"{job} ran {len(executions)} times"
        assert executions[0].close_time is not None, f"{job} is still open in Temporal"
