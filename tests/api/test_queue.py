"""Queue semantics through the API: exact positions, priorities, max_parallel, fairness,
pause, cancelling waiting runs, retention."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as redis
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.app import create_app
from api.deps import hash_token
from core.config import Settings
from core.run_result import RunProgress
from core.run_state import RunState
from core.temporal import connect
from core.temporal_link import TemporalLink
from devstack.temporal_server import temporal_binary
from dispatch.dispatcher import Dispatcher
from dispatch.group_commit import GroupCommit
from dispatch.new_runs import TestRunOrder
from live.events import RunEvent
from live.publisher import EventPublisher
from runner.host import WorkerHost
from store.db import create_engine, migrate
from store.models import Run, as_utc
from store.new_runs import NewRun, TestMissing, TokenUnknown
from store.queue import RunQueue
from tests.api.jobs import create_test, job, queue, wait_for_job
from tests.api.queue_helpers import (
    moment,
    most_at_once,
    positions,
    queue_at_once,
    stored_runs,
    wait_test,
    wait_until_finished,
)
from tests.conftest import ISOLATED_NAMESPACE
from tests.support.api_fixtures import ADMIN_TOKEN, ProjectAccess, new_project
from tests.support.definitions import shop_test
from tests.support.runs import poll
from workflows.messages import RunInput

REPO_ROOT = Path(__file__).resolve().parents[2]


async def stored_row(session: AsyncSession, job_id: str) -> Run:
    return (await session.exec(select(Run).where(Run.job_id == job_id))).one()


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def pause(api: httpx.AsyncClient, project: ProjectAccess) -> None:
    assert (
        await api.post("/api/execution/queue/pause", headers=project.headers)
    ).status_code == 200


async def resume(api: httpx.AsyncClient, project: ProjectAccess) -> None:
    response = await api.post("/api/execution/queue/resume", headers=project.headers)
    assert response.status_code == 200


async def test_simultaneous_requests_get_positions_1_to_n_which_then_only_fall(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, wait_test(pages_url, 300))
    await pause(api, project)
    queued = await queue_at_once(api, project, test_id, 12)
    assert sorted(q["position"] for q in queued) == list(range(1, 13))
    for answer in queued:
        assert (
            answer["message"]
            == f"Test queued successfully (Position {answer['position']} in queue)"
        )
    job_ids = [q["jobId"] for q in sorted(queued, key=lambda q: q["position"])]
    assert await positions(api, project, job_ids) == list(range(1, 13))

    await resume(api, project)
    seen: dict[str, list[int]] = {j: [] for j in job_ids}
    deadline = asyncio.get_running_loop().time() + 90
    while True:
        current = await positions(api, project, job_ids)
        if all(position is None for position in current):
            break
        for job_id, position in zip(job_ids, current, strict=True):
            if position is not None:
                seen[job_id].append(position)
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    for job_id, history in seen.items():
        assert history == sorted(history, reverse=True), f"{job_id} rose: {history}"
    assert sum(len(set(h)) > 1 for h in seen.values()) >= 6, "positions fell while runs started"
    runs = await wait_until_finished(api, project, job_ids)
    assert {runs[j]["state"] for j in job_ids} == {"completed"}


async def test_run_live_starts_before_regular_runs_queued_earlier(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api, max_parallel=1)
    test_id = await create_test(api, project, wait_test(pages_url, 200))
    await pause(api, project)
    regular = await queue_at_once(api, project, test_id, 2)
    (live,) = await queue_at_once(api, project, test_id, 1, live=True)
    assert live["position"] == 1
    assert sorted(await positions(api, project, [r["jobId"] for r in regular])) == [2, 3]
    await resume(api, project)
    runs = await wait_until_finished(api, project, [live["jobId"], *(r["jobId"] for r in regular)])
    first = min(runs.values(), key=lambda run: moment(run["startedAt"]))
    assert first["jobId"] == live["jobId"]
    assert first["priority"] == "live"


async def test_max_parallel_is_never_exceeded_and_a_full_project_holds_back_no_other(
    api: httpx.AsyncClient, api_settings: Settings, pages_url: str
) -> None:
    second = WorkerHost(await connect(api_settings), api_settings)  # 4 session slots in all
    await second.start()
    try:
        busy = await new_project(api, max_parallel=2)
        other = await new_project(api, max_parallel=2)
        busy_test = await create_test(api, busy, wait_test(pages_url, 1500))
        other_test = await create_test(api, other, wait_test(pages_url, 200))
        busy_jobs = [q["jobId"] for q in await queue_at_once(api, busy, busy_test, 6)]
        peak_active = 0
        other_job: str | None = None
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            status = (await api.get("/api/execution/queue/status", headers=busy.headers)).json()
            peak_active = max(peak_active, status["queue"]["active"])
            if other_job is None and status["queue"]["active"] == 2:
                (queued,) = await queue_at_once(api, other, other_test, 1)
                other_job = queued["jobId"]
                assert queued["position"] == 1
            if status["queue"]["completed"] == 6:
                break
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.05)
    finally:
        await second.stop()
    assert other_job is not None
    assert peak_active <= 2
    busy_runs = await wait_until_finished(api, busy, busy_jobs)
    assert most_at_once([busy_runs[j] for j in busy_jobs]) == 2
    other_run = (await wait_until_finished(api, other, [other_job]))[other_job]
    last_busy_start = max(moment(busy_runs[j]["startedAt"]) for j in busy_jobs)
    assert moment(other_run["startedAt"]) < last_busy_start, "the other project waited"


async def test_a_run_frees_its_slot_when_its_context_closes_and_the_next_takes_it_over(
    api: httpx.AsyncClient, api_settings: Settings, pages_url: str
) -> None:
    """With the project's only slot busy, the next run is admitted as the running run's
    successor and opens its context on that run's worker once that context has closed."""
    project = await new_project(api, max_parallel=1)
    test_id = await create_test(api, project, wait_test(pages_url, 500))
    queued = await queue_at_once(api, project, test_id, 3)
    jobs = [q["jobId"] for q in sorted(queued, key=lambda q: q["position"])]
    runs = await wait_until_finished(api, project, jobs)
    assert most_at_once([runs[j] for j in jobs]) == 1, "a run ends before the next one starts"
    engine = create_engine(api_settings.database_url)
    try:
        async with AsyncSession(engine) as session:
            rows = {job_id: await stored_row(session, job_id) for job_id in jobs}
    finally:
        await engine.dispose()
    for job_id in jobs:
        row = rows[job_id]
        assert row.state == "completed"
        assert row.slot_freed_at is not None, "the worker freed the slot when the context closed"
        assert row.finished_at is not None and as_utc(row.finished_at) <= as_utc(
            row.slot_freed_at
        ), "the run's end is its context's close, after which its slot was freed"
    ordered = [rows[job_id] for job_id in jobs]
    assert [row.successor_of for row in ordered] == [None, ordered[0].id, ordered[1].id]
    assert len({row.worker_id for row in ordered}) == 1, "each in its predecessor's worker"


async def test_a_run_whose_context_closed_is_not_active_while_its_result_is_stored(
    api: httpx.AsyncClient, api_settings: Settings, project: ProjectAccess, pages_url: str
) -> None:
    """Between its context's close and the record of its result a run holds no slot (the
    next run may have it): its job status asks the workflow afresh, never the answer cached
    while it ran, and says the state the workflow settled on."""
    job_id = await queue(api, project, await create_test(api, project, shop_test(pages_url)))
    await wait_for_job(api, project, job_id, ("completed",), timeout=60)
    running = RunProgress(state=RunState.ACTIVE, phase="steps", progress=60)
    assert api_settings.redis_url is not None
    cache = redis.Redis.from_url(api_settings.redis_url)
    engine = create_engine(api_settings.database_url)
    try:
        await cache.set(f"cache:progress:{job_id}", running.model_dump_json(), px=5000)
        async with AsyncSession(engine) as session:  # the row as it was in that moment
            row = await stored_row(session, job_id)
            row.state, finished_at, row.finished_at = RunState.ACTIVE, row.finished_at, None
            session.add(row)
            await session.commit()
            seen = await job(api, project, job_id)
            row.state, row.finished_at = RunState.COMPLETED, finished_at
            session.add(row)
            await session.commit()
    finally:
        await engine.dispose()
        await cache.aclose()
    assert seen["state"] == "completed" and seen["progress"] == 100
    assert seen["finishedOn"] is not None


async def test_a_successor_cancelled_while_it_waits_ends_and_leaves_the_slot_to_the_next(
    api: httpx.AsyncClient, api_settings: Settings, pages_url: str
) -> None:
    project = await new_project(api, max_parallel=1)
    test_id = await create_test(api, project, wait_test(pages_url, 3000))
    queued = await queue_at_once(api, project, test_id, 2)
    first, second = (q["jobId"] for q in sorted(queued, key=lambda q: q["position"]))
    engine = create_engine(api_settings.database_url)

    async def successor_of() -> int | None:
        async with AsyncSession(engine) as session:
            return (await stored_row(session, second)).successor_of

    try:
        await poll(successor_of, lambda found: found is not None, str, timeout=20)
        cancelled = await api.post(f"/api/execution/job/{second}/cancel", headers=project.headers)
        assert cancelled.status_code == 200
        await wait_for_job(api, project, second, ("cancelled",), timeout=10)
        assert (await job(api, project, first))["state"] == "active", "its predecessor runs on"
        [third] = [q["jobId"] for q in await queue_at_once(api, project, test_id, 1)]
        runs = await wait_until_finished(api, project, [first, third])
    finally:
        await engine.dispose()
    assert runs[first]["state"] == runs[third]["state"] == "completed"
    assert moment(runs[third]["startedAt"]) >= moment(runs[first]["finishedOn"])


async def test_max_parallel_can_be_raised_while_runs_wait(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    project = await new_project(api, max_parallel=1)
    test_id = await create_test(api, project, wait_test(pages_url, 4000))
    queued = await queue_at_once(api, project, test_id, 2)
    first, second = (q["jobId"] for q in sorted(queued, key=lambda q: q["position"]))
    await wait_for_job(api, project, first, ("active",))
    assert (await job(api, project, second))["state"] == "waiting"
    changed = await api.patch("/api/projects/me", json={"max_parallel": 2}, headers=project.headers)
    assert changed.status_code == 200 and changed.json()["max_parallel"] == 2
    await wait_for_job(api, project, second, ("active",), timeout=10)
    assert (await job(api, project, first))["state"] == "active", "both run at once now"
    for job_id in (first, second):
        await api.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
    bad = await api.patch("/api/projects/me", json={"max_parallel": 0}, headers=project.headers)
    assert bad.status_code == 422


async def test_a_project_with_many_waiting_runs_does_not_starve_one_with_a_single_run(
    api: httpx.AsyncClient, pages_url: str
) -> None:
    crowd = await new_project(api, max_parallel=10)
    single = await new_project(api, max_parallel=10)
    crowd_test = await create_test(api, crowd, wait_test(pages_url, 700))
    single_test = await create_test(api, single, wait_test(pages_url, 100))
    crowd_jobs = [q["jobId"] for q in await queue_at_once(api, crowd, crowd_test, 50)]

    async def crowd_queue() -> dict[str, Any]:
        answer = await api.get("/api/execution/queue/status", headers=crowd.headers)
        return dict(answer.json()["queue"])

    await poll(crowd_queue, lambda q: q["active"] >= 2, str, timeout=60, interval=0.05)
    (queued,) = await queue_at_once(api, single, single_test, 1)
    single_job = queued["jobId"]
    done = await wait_for_job(api, single, single_job, ("completed", "failed"), timeout=60)
    assert done["state"] == "completed"
    crowd_status = (await api.get("/api/execution/queue/status", headers=crowd.headers)).json()
    assert crowd_status["queue"]["waiting"] >= 30, "the crowd still waits"

    single_run = (await stored_runs(api, single))[single_job]
    queued_at, started_at = moment(single_run["createdAt"]), moment(single_run["startedAt"])
    crowd_runs = await stored_runs(api, crowd)
    cut_in = [
        r
        for r in crowd_runs.values()
        if r["startedAt"] and queued_at < moment(r["startedAt"]) < started_at
    ]
    # FIFO would start all 50 first. With 2 slots and a successor fixed one run ahead of each
    # (dispatch.successors), at most these may: the 2 successors admitted before the single run
    # arrived, and one more per slot while the single run waits for the run whose slot it was
    # granted (that run may end after the other slot's next one, or end before the single run's
    # workflow reaches its worker: then it takes the next slot to come up).
    slots = 2
    assert len(cut_in) <= 2 * slots, f"{len(cut_in)} crowd runs started before the single one"

    cancels = await asyncio.gather(
        *(
            api.post(f"/api/execution/job/{job_id}/cancel", headers=crowd.headers)
            for job_id in crowd_jobs
        )
    )
    assert all(c.status_code in (200, 409) for c in cancels)
    await wait_until_finished(api, crowd, crowd_jobs)


async def test_cancelling_a_waiting_run_moves_every_run_behind_it_up(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, api_settings: Settings
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    await pause(api, project)
    queued = await queue_at_once(api, project, test_id, 5)
    jobs = [q["jobId"] for q in sorted(queued, key=lambda q: q["position"])]

    cancelled = await api.post(f"/api/execution/job/{jobs[1]}/cancel", headers=project.headers)
    assert cancelled.status_code == 200
    assert await positions(api, project, jobs) == [1, None, 2, 3, 4]
    assert (await job(api, project, jobs[1]))["state"] == "cancelled"

    # The operator's way: `temporal workflow cancel` on the first waiting run.
    client = await connect(api_settings)
    await _wait_until_started(client, jobs[0])
    process = await asyncio.create_subprocess_exec(
        temporal_binary(),
        "workflow",
        "cancel",
        "--workflow-id",
        jobs[0],
        "--address",
        api_settings.temporal_address,
        "--namespace",
        api_settings.temporal_namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    await wait_for_job(api, project, jobs[0], ("cancelled",), timeout=20)
    assert await positions(api, project, jobs) == [None, None, 1, 2, 3]
    assert (await stored_runs(api, project))[jobs[0]]["state"] == "cancelled"

    await resume(api, project)
    runs = await wait_until_finished(api, project, jobs)
    assert [runs[j]["state"] for j in jobs] == ["cancelled"] * 2 + ["completed"] * 3


async def _wait_until_started(client, job_id: str) -> None:
    """Wait until the dispatcher has started the waiting run's workflow."""
    for _ in range(100):
        try:
            await client.get_workflow_handle(job_id).describe()
            return
        except Exception:
            await asyncio.sleep(0.1)
    raise TimeoutError(f"workflow {job_id} was never started")


async def test_the_admin_pauses_and_resumes_every_project(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    assert (await api.post("/api/admin/queue/pause", headers=project.headers)).status_code == 401
    assert (await api.post("/api/admin/queue/pause", headers=ADMIN)).status_code == 200
    try:
        test_id = await create_test(api, project, shop_test(pages_url))
        (queued,) = await queue_at_once(api, project, test_id, 1)
        status = (await api.get("/api/execution/queue/status", headers=project.headers)).json()
        assert status["queue"]["isPaused"] is True and status["queue"]["paused"] == 1
        await asyncio.sleep(2)  # a window in which nothing may happen: admission is paused
        held = await job(api, project, queued["jobId"])
        assert held["state"] == "waiting" and held["position"] == 1
    finally:
        assert (await api.post("/api/admin/queue/resume", headers=ADMIN)).status_code == 200
    done = await wait_for_job(api, project, queued["jobId"], ("completed", "failed"))
    assert done["state"] == "completed"


async def test_retention_keeps_the_newest_runs_and_deletes_older_ones_with_artifacts(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, api_settings: Settings
) -> None:
    kept = await api.patch("/api/projects/me", json={"keep_completed": 2}, headers=project.headers)
    assert kept.status_code == 200 and kept.json()["keep_completed"] == 2
    test_id = await create_test(api, project, shop_test(pages_url))
    jobs = []
    for _ in range(4):  # one after the other, so the newest are the last two
        (queued,) = await queue_at_once(api, project, test_id, 1)
        jobs.append(queued["jobId"])
        await wait_for_job(api, project, queued["jobId"], ("completed",))
    artifacts = Path(api_settings.artifacts_dir)
    deadline = asyncio.get_running_loop().time() + 20
    while set(await stored_runs(api, project)) != set(jobs[2:]):
        assert asyncio.get_running_loop().time() < deadline, await stored_runs(api, project)
        await asyncio.sleep(0.2)
    assert not (artifacts / jobs[0]).exists() and not (artifacts / jobs[1]).exists()
    assert (artifacts / jobs[3]).is_dir()
    assert (await api.get(f"/api/runs/{jobs[0]}", headers=project.headers)).status_code == 404

    cleaned = await api.post(
        "/api/execution/queue/clean", json={"state": "completed"}, headers=project.headers
    )
    assert cleaned.status_code == 200 and cleaned.json()["removed"] == 2
    assert await stored_runs(api, project) == {}
    assert not (artifacts / jobs[3]).exists()
    bad = await api.post(
        "/api/execution/queue/clean", json={"state": "done"}, headers=project.headers
    )
    assert bad.status_code == 422


async def test_a_terminated_run_gives_its_slot_back(
    api_settings: Settings, pages_url: str, tmp_path: Path
) -> None:
    # A stack of its own: the terminated run's browser context stays open until its worker
    # stops (terminating skips the workflow's teardown), and no other test may lose that slot.
    settings = api_settings.model_copy(
        update={
            "temporal_namespace": ISOLATED_NAMESPACE,
            "database_url": f"sqlite:///{tmp_path / 'service.db'}",
            "worker_max_sessions": 1,
        }
    )
    migrate(settings.database_url)
    client = await connect(settings)
    host = WorkerHost(client, settings)
    await host.start()
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
                project = await new_project(api, max_parallel=1)
                test_id = await create_test(api, project, wait_test(pages_url, 30000))
                queued = await queue_at_once(api, project, test_id, 2)
                first, second = (q["jobId"] for q in sorted(queued, key=lambda q: q["position"]))
                await wait_for_job(api, project, first, ("active",))
                await client.get_workflow_handle(first).terminate("operator")

                engine = create_engine(settings.database_url)
                dispatcher = Dispatcher.build(engine, TemporalLink(settings))
                try:
                    assert await dispatcher.reconcile_once(older_than_s=0) == 1
                finally:
                    await engine.dispose()
                stored = (await stored_runs(api, project))[first]
                assert stored["state"] == "cancelled" and "terminated" in stored["error"]
                assert (await job(api, project, second))["state"] == "waiting"
                await host.stop()  # its leaked context goes with it; a fresh worker takes over
                host = WorkerHost(client, settings)
                await host.start()
                await wait_for_job(api, project, second, ("active",), timeout=30)
                await api.post(f"/api/execution/job/{second}/cancel", headers=project.headers)
                await wait_until_finished(api, project, [second])
    finally:
        await host.stop()


async def test_scheduled_runs_queue_behind_regular_ones(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str, api_settings: Settings
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    await pause(api, project)
    (regular,) = await queue_at_once(api, project, test_id, 1)
    engine = create_engine(api_settings.database_url)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            scheduled = NewRun(
                job_id=f"run-{uuid.uuid4().hex}",
                project_id=project.id,
                test_id=test_id,
                priority="scheduled",
                run_input=RunInput(
                    test=shop_test(pages_url), project_id=project.id, admission=True
                ).model_dump(mode="json"),
            )
            assert await RunQueue().enqueue(session, [scheduled]) == [2]
        (later,) = await queue_at_once(api, project, test_id, 1)
        assert later["position"] == 2, "a regular run goes ahead of a scheduled one"
        assert (await job(api, project, scheduled.job_id))["position"] == 3
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await RunQueue().cancel_waiting(session, scheduled.job_id)
    finally:
        await engine.dispose()
    for job_id in (regular["jobId"], later["jobId"]):
        await api.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)


async def test_one_batch_resolves_every_token_and_test_and_orders_its_priorities(
    api: httpx.AsyncClient, api_settings: Settings, pages_url: str
) -> None:
    """Requests written in one transaction: each is checked on its own (unknown token, another
    project's test, no such test) and the others still get the positions of the queue's order."""
    first, second = await new_project(api), await new_project(api)
    first_test = await create_test(api, first, shop_test(pages_url))
    second_test = await create_test(api, second, shop_test(pages_url))
    for project in (first, second):
        await pause(api, project)
    engine = create_engine(api_settings.database_url)
    announced: list[RunEvent] = []
    wakes: list[None] = []
    silent = EventPublisher(None, listeners=[announced.append])
    batch = GroupCommit(engine, RunQueue(), silent, lambda: wakes.append(None))

    def order(project: ProjectAccess, test_id: int, priority: str = "regular") -> Any:
        return batch.enqueue_order(TestRunOrder(hash_token(project.token), test_id, priority))

    scheduled = NewRun(
        job_id=f"run-{uuid.uuid4().hex}",
        project_id=first.id,
        test_id=first_test,
        priority="scheduled",
        run_input=RunInput(test=shop_test(pages_url), admission=True).model_dump(mode="json"),
    )
    try:
        answers: list[Any] = await asyncio.gather(
            order(first, first_test),
            batch.enqueue([scheduled]),
            order(first, first_test, "live"),
            order(second, second_test),
            order(first, first_test),
            order(first, first_test, "live"),
            order(first, second_test),
            batch.enqueue_order(TestRunOrder(hash_token("no-such-token"), first_test, "live")),
            order(first, 2**70),
            return_exceptions=True,
        )
        await batch.idle()
    finally:
        await engine.dispose()
    regular_1, [scheduled_position], live_1, other, regular_2, live_2, *refused = answers
    assert [position for _run, position in (live_1, live_2, regular_1, regular_2)] == [1, 2, 3, 4]
    assert scheduled_position == 5, "a scheduled run queues behind regular and live runs"
    assert other[1] == 1, "another project's queue is its own"
    assert [type(error) for error in refused] == [TestMissing, TokenUnknown, TestMissing]
    queued = [(r.job_id, p) for r, p in (regular_1, live_1, other, regular_2, live_2)]
    queued.append((scheduled.job_id, scheduled_position))
    assert sorted((e.job_id, e.data["position"]) for e in announced) == sorted(queued)
    assert all(e.type == "queued" for e in announced) and wakes, "announced, dispatcher woken"
    stored = [run.job_id for run, _position in (live_1, live_2, regular_1, regular_2)]
    assert await positions(api, first, [*stored, scheduled.job_id]) == [1, 2, 3, 4, 5]
    for job_id in [*stored, scheduled.job_id]:
        await api.post(f"/api/execution/job/{job_id}/cancel", headers=first.headers)
    await api.post(f"/api/execution/job/{other[0].job_id}/cancel", headers=second.headers)


async def test_the_writer_gives_its_sqlite_page_cache_back_once_the_queue_is_drained(
    tmp_path: Path,
) -> None:
    """A burst of runs fills the writer connection's page cache; once the queue is drained the
    pages go back, instead of staying with the connection for its lifetime. Measured in a
    process of its own: SQLite's memory counter is the whole process's."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.support.sqlite_burst", str(tmp_path / "burst.db")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["unique"] == 500
    grown = figures["peak"] - figures["before"]
    held = figures["after"] - figures["before"]
    assert grown > 200_000, f"the burst's pages were cached ({grown} bytes)"
    assert held < grown / 4, f"{held} of {grown} bytes still held"


async def test_the_waiting_runs_are_listed_in_queue_order_with_their_positions(
    api: httpx.AsyncClient, project: ProjectAccess, pages_url: str
) -> None:
    test_id = await create_test(api, project, shop_test(pages_url))
    await pause(api, project)
    regular = [await queue(api, project, test_id) for _ in range(2)]
    live = (
        await api.post(f"/api/execution/test/{test_id}/run-live", headers=project.headers)
    ).json()["jobId"]
    listed = (await api.get("/api/execution/queue/waiting", headers=project.headers)).json()
    assert listed["total"] == 3
    assert [(r["position"], r["jobId"]) for r in listed["runs"]] == list(
        enumerate([live, *regular], start=1)
    )
    second_page = await api.get(
        "/api/execution/queue/waiting?limit=2&offset=2", headers=project.headers
    )
    assert [(r["position"], r["jobId"]) for r in second_page.json()["runs"]] == [(3, regular[1])]
    for job_id in [live, *regular]:
        await api.post(f"/api/execution/job/{job_id}/cancel", headers=project.headers)
