"""The service as several hosts (devstack.multihost: network namespaces), on PostgreSQL.

Each fault happens with 20 runs of two projects in flight. What must hold, from the API, the
database's results and Temporal: every acknowledged run ends exactly once (one execution, one
result), no waiting run's position rises, runs of a lost host start again on the other,
/health says what is wrong while it is, and the hosts rejoin by themselves. The figures
(time to notice, to recover) are printed; timing bounds stay out of the suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from devstack.multihost import MultiHostService, new_folder, start_service
from devstack.netns import Host, Topology
from store.admission import AdmissionStore, Lease
from store.db import create_engine
from store.models import Run, as_utc
from tests.api.jobs import create_test, job, queue
from tests.api.queue_helpers import moment, most_at_once
from tests.support.api_fixtures import ADMIN_TOKEN, ProjectAccess, new_project
from tests.support.definitions import waiting_shop_test

RUNS_PER_PROJECT = 10
FINAL = {"completed", "failed", "cancelled", "timed_out"}


@pytest.fixture(scope="module")
async def hosts() -> AsyncIterator[MultiHostService]:
    """The four hosts, answering, with both workers live; removed at the end."""
    folder = new_folder()
    try:
        with Topology() as net:
            service = start_service(net, folder, ADMIN_TOKEN)
            async with httpx.AsyncClient(base_url=service.api_url, timeout=10) as api:
                await health_until(api, lambda health: healthy(health, live=2), 90)
            yield service
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def healthy(health: dict[str, Any], live: int) -> bool:
    return health.get("status") == "ok" and health["workers"]["live"] == live


async def health_of(api: httpx.AsyncClient) -> dict[str, Any]:
    """/health's answer ({} when the API does not answer)."""
    try:
        return (await api.get("/health", timeout=5)).json()  # its checks end within 3 s
    except (httpx.HTTPError, ValueError):
        return {}


async def health_until(api: httpx.AsyncClient, wanted: Any, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        health = await health_of(api)
        if wanted(health):
            return health
        assert time.monotonic() < deadline, f"/health stayed {health}"
        await asyncio.sleep(0.3)


@dataclass
class Flight:
    """Runs of two projects in flight, and what a watcher saw while a fault lasted."""

    api: httpx.AsyncClient
    jobs: list[tuple[ProjectAccess, str]]
    health: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)
    _watcher: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, api: httpx.AsyncClient, hosts: MultiHostService, wait_ms: int) -> Flight:
        projects = [await new_project(api, max_parallel=4) for _ in range(2)]
        jobs = []
        for project in projects:
            test = waiting_shop_test(hosts.pages_url, f"hold {wait_ms} ms", wait_ms)
            test_id = await create_test(api, project, test)
            jobs += [(project, await queue(api, project, test_id)) for _ in range(RUNS_PER_PROJECT)]
        return cls(api, jobs)

    async def status(self, project: ProjectAccess, job_id: str) -> dict[str, Any]:
        return await job(self.api, project, job_id)

    def start_watching(self) -> None:
        """From now until `stop_watching`: /health, and the position of every waiting run, a
        few times a second."""
        self._watcher = asyncio.create_task(self._watch())

    async def stop_watching(self) -> None:
        assert self._watcher is not None
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher

    async def _watch(self) -> None:
        while True:
            self.health.append((time.monotonic(), await health_of(self.api)))
            for project, job_id in self.jobs:
                with_timeout = asyncio.wait_for(self.status(project, job_id), 5)
                try:
                    position = (await with_timeout)["position"]
                except (httpx.HTTPError, AssertionError, TimeoutError):
                    continue
                if position is not None:
                    self.positions.setdefault(job_id, []).append(position)
            await asyncio.sleep(0.25)

    async def active_on(self, host: Host) -> list[str]:
        """The runs whose current session is on `host`'s worker."""
        found = []
        for project, job_id in self.jobs:
            current = await self.status(project, job_id)
            attempts = (current.get("result") or {}).get("session_attempts") or []
            if current["state"] == "active" and attempts and on_host(attempts[-1], host):
                found.append(job_id)
        return found

    async def finished(self, seconds: float) -> dict[str, dict[str, Any]]:
        """Every run's final status, once all are final."""
        deadline = time.monotonic() + seconds
        while True:
            states = {job_id: await self.status(p, job_id) for p, job_id in self.jobs}
            if all(s["state"] in FINAL for s in states.values()):
                return states
            unfinished = {j: s for j, s in states.items() if s["state"] not in FINAL}
            assert time.monotonic() < deadline, f"not final: {unfinished}"
            await asyncio.sleep(0.5)


def on_host(attempt: dict[str, Any], host: Host) -> bool:
    """Whether a session attempt ran on `host`'s worker (its worker ID names the host)."""
    return str(attempt.get("worker_id") or "").startswith(f"worker-{host.namespace}.")


async def rows_of(hosts: MultiHostService, job_ids: list[str]) -> dict[str, Run]:
    """The runs' rows in the database, as the dispatcher reads them."""
    engine = create_engine(hosts.database_url)
    try:
        async with AsyncSession(engine) as session:
            rows = await session.exec(select(Run).where(col(Run.job_id).in_(job_ids)))
            return {row.job_id: row for row in rows}
    finally:
        await engine.dispose()


async def executions_of(hosts: MultiHostService, job_id: str) -> int:
    client = await Client.connect(hosts.temporal_address)
    return len([w async for w in client.list_workflows(f'WorkflowId = "{job_id}"')])


def restart_figures(attempts: list[dict[str, Any]], fault_at: float) -> str:
    """When the run gave its first session up, and when its second opened, after the fault
    (the second waits for a free slot on the other host)."""
    lost = moment(attempts[0]["lost_at"]).timestamp() - fault_at
    opened = moment(attempts[1]["opened_at"]).timestamp() - fault_at
    return f"given up after {lost:.1f} s, reopened after {opened:.1f} s"


async def assert_each_completed_once(
    hosts: MultiHostService, final: dict[str, dict[str, Any]]
) -> None:
    """Every run completed, in one workflow execution (so with one result)."""
    assert {state["state"] for state in final.values()} == {"completed"}, final
    for job_id in final:
        assert await executions_of(hosts, job_id) == 1, job_id


def assert_positions_never_rose(flight: Flight) -> None:
    for job_id, seen in flight.positions.items():
        assert all(b <= a for a, b in zip(seen, seen[1:], strict=False)), (job_id, seen)


async def test_a_worker_host_that_dies_loses_no_run_and_its_runs_start_again_on_the_other(
    hosts: MultiHostService,
) -> None:
    victim, survivor = hosts.net.hosts["worker-1"], hosts.net.hosts["worker-2"]
    async with httpx.AsyncClient(base_url=hosts.api_url, timeout=10) as api:
        flight = await Flight.start(api, hosts, wait_ms=4000)
        await health_until(api, lambda h: h.get("workers", {}).get("sessions_in_use") == 4, 60)
        lost_runs = await flight.active_on(victim)
        assert lost_runs, "the victim held no run"
        flight.start_watching()
        killed_at = time.monotonic()
        killed_at_wall = time.time()
        assert victim.kill(), "the victim had processes"
        told = await health_until(api, lambda h: h.get("workers", {}).get("lost", 0) >= 1, 60)
        noticed_s = time.monotonic() - killed_at
        final = await flight.finished(240)
        await flight.stop_watching()
        hosts.start_worker(victim)  # the host boots again: its worker joins by itself
        booted_at = time.monotonic()
        await health_until(api, lambda h: healthy(h, live=2), 90)
        rejoined_s = time.monotonic() - booted_at

    assert told["status"] == "degraded", told
    await assert_each_completed_once(hosts, final)
    restarts = []
    for job_id in lost_runs:
        attempts = final[job_id]["result"]["session_attempts"]
        assert len(attempts) == 2 and on_host(attempts[0], victim), attempts
        assert on_host(attempts[1], survivor) and attempts[0]["lost_reason"], attempts
        restarts.append(restart_figures(attempts, killed_at_wall))
    after_kill = [
        {"startedAt": s["startedAt"], "finishedOn": s["finishedOn"]}
        for s in final.values()
        if on_host(s["result"]["session_attempts"][-1], survivor)
        and moment(s["startedAt"]).timestamp() > killed_at_wall
    ]
    assert most_at_once(after_kill) >= 2, "the surviving worker kept both its slots busy"
    assert_positions_never_rose(flight)
    print(
        f"\nworker host killed: noticed by /health after {noticed_s:.1f} s; "
        f"{len(lost_runs)} runs lost, restarted on the other host: "
        f"{'; '.join(restarts)}; rejoined {rejoined_s:.1f} s after the host came back"
    )


async def test_a_worker_host_cut_off_for_30_s_closes_its_contexts_and_rejoins_by_itself(
    hosts: MultiHostService,
) -> None:
    victim, survivor = hosts.net.hosts["worker-1"], hosts.net.hosts["worker-2"]
    async with httpx.AsyncClient(base_url=hosts.api_url, timeout=10) as api:
        await health_until(api, lambda h: healthy(h, live=2), 90)
        flight = await Flight.start(api, hosts, wait_ms=4000)
        await health_until(api, lambda h: h.get("workers", {}).get("sessions_in_use") == 4, 60)
        lost_runs = await flight.active_on(victim)
        assert lost_runs, "the victim held no run"
        flight.start_watching()
        cut_at, cut_at_wall = time.monotonic(), time.time()
        hosts.net.cut(victim)
        told = await health_until(api, lambda h: h.get("workers", {}).get("lost", 0) >= 1, 60)
        noticed_s = time.monotonic() - cut_at
        await asyncio.sleep(max(0.0, 30 - (time.monotonic() - cut_at)))
        hosts.net.mend(victim)
        healed_at = time.monotonic()
        await health_until(api, lambda h: healthy(h, live=2), 90)
        rejoined_s = time.monotonic() - healed_at
        final = await flight.finished(240)
        await flight.stop_watching()

    assert told["status"] == "degraded", told
    await assert_each_completed_once(hosts, final)
    rows = await rows_of(hosts, lost_runs)
    restarts = []
    for job_id in lost_runs:
        attempts = final[job_id]["result"]["session_attempts"]
        assert len(attempts) == 2 and on_host(attempts[0], victim), attempts
        assert on_host(attempts[1], survivor), attempts
        restarts.append(restart_figures(attempts, cut_at_wall))
        row = rows[job_id]
        assert row.session_attempt == 2 and row.worker_id == attempts[1]["worker_id"], row
    assert_positions_never_rose(flight)
    worker_log = hosts.log("worker-1").read_text()
    closed = [line for line in worker_log.splitlines() if "closed" in line and "contexts" in line]
    assert closed, "the cut-off worker closed its browser contexts"
    refused = worker_log.count("a later attempt started elsewhere")
    print(
        f"\nworker host cut off 30 s: noticed by /health after {noticed_s:.1f} s; "
        f"{len(lost_runs)} runs lost, restarted on the other host: "
        f"{'; '.join(restarts)}; {closed[-1][-80:]}; "
        f"{refused} late writes refused; rejoined {rejoined_s:.1f} s after the link came back"
    )


async def lease_now(hosts: MultiHostService) -> Lease:
    engine = create_engine(hosts.database_url)
    try:
        lease = await AdmissionStore(engine).lease()
    finally:
        await engine.dispose()
    assert lease is not None, "a dispatcher holds the lease"
    return lease


async def test_the_api_host_cut_off_for_30_s_a_standby_dispatcher_leads_only_after_the_lease(
    hosts: MultiHostService,
) -> None:
    standby_host = hosts.net.hosts["worker-2"]
    hosts.start_dispatcher_on(standby_host)  # a second dispatcher, on another host
    async with httpx.AsyncClient(base_url=hosts.api_url, timeout=10) as api:
        await health_until(api, lambda h: healthy(h, live=2), 90)
        flight = await Flight.start(api, hosts, wait_ms=3000)
        await health_until(api, lambda h: h.get("workers", {}).get("sessions_in_use") == 4, 60)
        hosts.net.cut(hosts.api)
        first = await lease_now(hosts)  # its holder can no longer renew it
        await asyncio.sleep(30)
        taken = await lease_now(hosts)
        hosts.net.mend(hosts.api)
        healed_at = time.monotonic()
        health = await health_until(api, lambda h: healthy(h, live=2), 90)
        rejoined_s = time.monotonic() - healed_at
        final = await flight.finished(240)
        after = await lease_now(hosts)

    await assert_each_completed_once(hosts, final)
    assert taken.holder != first.holder, "the standby took the lease while the api host was away"
    assert after.holder == taken.holder, "the first dispatcher did not take it back"
    rows = (await rows_of(hosts, list(final))).values()
    by_standby = [row for row in rows if row.admitted_by == taken.holder]
    assert by_standby, "the standby granted the runs left waiting"
    standby_from = min(as_utc(row.admitted_at) for row in by_standby if row.admitted_at)
    assert standby_from >= first.until, "the standby granted before the first lease ran out"
    by_first = [row.admitted_at for row in rows if row.admitted_by == first.holder]
    late = [at for at in by_first if at is not None and as_utc(at) >= first.until]
    assert not late, "the first dispatcher granted after its lease ran out"
    print(
        f"\napi host cut off 30 s: the standby granted from {standby_from:%H:%M:%S.%f} "
        f"(the first lease ended {first.until:%H:%M:%S.%f}); {len(by_standby)} runs granted by "
        f"it; /health ok {rejoined_s:.1f} s after the link came back ({health['dispatcher']}); "
        f"{len(by_first)} grants by the first dispatcher, all within its lease"
    )


async def test_redis_unreachable_for_30_s_slows_nothing_that_matters(
    hosts: MultiHostService,
) -> None:
    redis = hosts.redis_process()
    async with httpx.AsyncClient(base_url=hosts.api_url, timeout=10) as api:
        await health_until(api, lambda h: h.get("status") == "ok", 90)
        flight = await Flight.start(api, hosts, wait_ms=2000)
        flight.start_watching()
        redis.send_signal(signal.SIGSTOP)  # it answers nothing: unreachable
        stopped_at = time.monotonic()
        try:
            told = await health_until(api, lambda h: h.get("redis", "ok") != "ok", 60)
            noticed_s = time.monotonic() - stopped_at
            await asyncio.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))
        finally:
            redis.send_signal(signal.SIGCONT)
        back_at = time.monotonic()
        await health_until(api, lambda h: h.get("status") == "ok", 90)
        recovered_s = time.monotonic() - back_at
        final = await flight.finished(240)
        await flight.stop_watching()

    assert told["status"] == "degraded", told
    await assert_each_completed_once(hosts, final)
    assert_positions_never_rose(flight)
    print(
        f"\nredis unreachable 30 s: /health said {told['redis']!r} after {noticed_s:.1f} s, "
        f"ok {recovered_s:.1f} s after it answered again; 20 of 20 runs completed"
    )


async def test_postgresql_restarted_with_runs_in_flight_loses_no_run(
    hosts: MultiHostService,
) -> None:
    async with httpx.AsyncClient(base_url=hosts.api_url, timeout=10) as api:
        await health_until(api, lambda h: h.get("status") == "ok", 90)
        flight = await Flight.start(api, hosts, wait_ms=2000)
        await health_until(api, lambda h: h.get("workers", {}).get("sessions_in_use") == 4, 60)
        flight.start_watching()
        restarted_at = time.monotonic()
        await asyncio.to_thread(hosts.restart_postgres)
        restart_s = time.monotonic() - restarted_at
        await health_until(api, lambda h: h.get("status") == "ok", 90)
        recovered_s = time.monotonic() - restarted_at
        final = await flight.finished(240)
        await flight.stop_watching()

    await assert_each_completed_once(hosts, final)
    assert_positions_never_rose(flight)
    told = [h.get("database", "no answer") for _, h in flight.health if h.get("database") != "ok"]
    print(
        f"\npostgresql restarted ({restart_s:.1f} s): /health ok again after {recovered_s:.1f} s; "
        f"it reported the database {told[:1] or ['ok (the outage fell between samples)']}; "
        f"20 of 20 runs completed"
    )
