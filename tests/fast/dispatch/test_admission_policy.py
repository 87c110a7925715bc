"""The dispatcher's admission policy against SQLite, without Temporal: capacity from live
workers, each project's max_parallel, pauses, priorities and turns between projects."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_state import RunState
from store.admission import AdmissionStore
from store.models import Project, Run, utcnow
from store.queue import RunQueue
from store.runs import RunStore
from tests.support.admission_queue import Queue


async def test_no_run_is_granted_without_a_live_worker(queue: Queue) -> None:
    await queue.queue(await queue.project("a"))
    assert await queue.granted() == []


async def test_grants_stop_at_the_workers_capacity_and_resume_when_a_slot_frees(
    queue: Queue,
) -> None:
    project = await queue.project("a", max_parallel=10)
    first, second, third = await queue.queue(project, 3)
    await queue.workers.beat("worker-1", max_sessions=2)
    assert await queue.granted() == [first, second]
    assert await queue.granted() == [], "both slots are held"
    await queue.finish([first])
    assert await queue.granted() == [third]


async def test_a_project_never_holds_more_than_its_max_parallel(queue: Queue) -> None:
    project = await queue.project("a", max_parallel=1)
    first, _second = await queue.queue(project, 2)
    await queue.workers.beat("worker-1", max_sessions=4)
    assert await queue.granted() == [first]
    assert await queue.granted() == []


async def test_projects_take_turns_for_free_slots(queue: Queue) -> None:
    """A project that queued first does not take every slot: the other gets its turn."""
    busy, quiet = await queue.project("busy", max_parallel=5), await queue.project("quiet")
    busy_runs = await queue.queue(busy, 4)
    [quiet_run] = await queue.queue(quiet, 1)
    await queue.workers.beat("worker-1", max_sessions=2)
    assert sorted(await queue.granted()) == sorted([busy_runs[0], quiet_run])


async def test_live_runs_go_before_regular_and_scheduled_runs(queue: Queue) -> None:
    project = await queue.project("a", max_parallel=3)
    [scheduled] = await queue.queue(project, 1, "scheduled")
    [regular] = await queue.queue(project, 1, "regular")
    [live] = await queue.queue(project, 1, "live")
    await queue.workers.beat("worker-1", max_sessions=1)
    assert await queue.granted() == [live]
    await queue.workers.beat("worker-1", max_sessions=3)
    assert await queue.granted() == [regular, scheduled]


async def test_paused_projects_and_a_global_pause_are_not_granted(queue: Queue) -> None:
    paused, other = await queue.project("paused"), await queue.project("other")
    await queue.queue(paused, 1)
    [other_run] = await queue.queue(other, 1)
    async with AsyncSession(queue.engine) as session:
        project = await session.get(Project, paused)
        assert project is not None
        project.paused = True
        session.add(project)
        await session.commit()
    await queue.workers.beat("worker-1", max_sessions=4)
    admission = AdmissionStore(queue.engine)
    await admission.pause_all(True)
    assert await queue.granted() == []
    await admission.pause_all(False)
    assert await queue.granted() == [other_run]


async def test_a_closed_context_frees_its_slot_and_project_room_before_the_result(
    queue: Queue,
) -> None:
    project = await queue.project("a", max_parallel=1)
    first, second = await queue.queue(project, 2)
    await queue.workers.beat("worker-1", max_sessions=1)
    assert await queue.granted() == [first]
    runs = RunStore(queue.engine)
    await runs.mark_started(first, utcnow())
    await runs.free_slot(first)
    assert await queue.granted() == [second], "the slot and the project's room are free"
    checked = [run.job_id for run in await AdmissionStore(queue.engine).admitted_runs()]
    assert first in checked, "an unfinished run is still checked on by the reconciler"
    async with AsyncSession(queue.engine) as session:
        counts = await RunQueue.counts(session, project)
    assert counts == {RunState.WAITING: 1}, "the first is in no count until its result is in"
    await queue.finish([first])
    async with AsyncSession(queue.engine) as session:
        assert await RunQueue.counts(session, project) == {
            RunState.WAITING: 1,
            RunState.COMPLETED: 1,
        }


async def test_a_lost_worker_s_slots_leave_the_capacity_at_once(queue: Queue) -> None:
    project = await queue.project("a", max_parallel=4)
    runs = await queue.queue(project, 2)
    await queue.workers.beat("worker-1", max_sessions=1)
    await queue.workers.beat("worker-2", max_sessions=1)
    await queue.workers.mark_lost("worker-2")
    assert await queue.granted() == runs[:1]


async def test_a_granted_run_is_granted_once(queue: Queue) -> None:
    project = await queue.project("a")
    [only] = await queue.queue(project, 1)
    await queue.workers.beat("worker-1", max_sessions=4)
    assert await queue.granted() == [only]
    assert await queue.granted() == []
    async with AsyncSession(queue.engine) as session:
        [run] = (await session.exec(select(Run))).all()
        assert run.job_id == only and run.admitted_at is not None


async def test_while_another_project_waits_no_project_holds_more_than_its_share_of_slots(
    queue: Queue,
) -> None:
    """A long-running tenant with a high max_parallel and live priority takes every slot only
    while nobody else waits; then it goes down to half as its runs end."""
    greedy, other = await queue.project("greedy", max_parallel=10), await queue.project("other")
    await queue.workers.beat("worker-1", max_sessions=4)
    first = await queue.queue(greedy, 4, "live")
    assert sorted(await queue.granted()) == sorted(first), "alone, it may use every slot"
    more = await queue.queue(greedy, 4, "live")
    theirs = await queue.queue(other, 3)
    await queue.finish(first[:1])
    assert await queue.granted() == theirs[:1], "the waiting project's run, not the live one"
    await queue.finish(first[1:2])
    assert await queue.granted() == theirs[1:2], "the greedy project is over its share (2)"
    await queue.finish(first[2:3])
    assert await queue.granted() == more[:1], "the other project holds its share: 2 of 4"
    await queue.finish(theirs[:1])
    assert await queue.granted() == theirs[2:3], "each holds 2 while the other waits"


async def test_a_project_at_its_own_max_parallel_does_not_hold_others_to_their_share(
    queue: Queue,
) -> None:
    """Its waiting runs wait for its own limit, not for a slot: nobody is capped for them."""
    limited, other = await queue.project("limited", max_parallel=1), await queue.project("other", 4)
    await queue.workers.beat("worker-1", max_sessions=4)
    [running, *_waiting] = await queue.queue(limited, 3)
    assert await queue.granted() == [running]
    theirs = await queue.queue(other, 3)
    assert await queue.granted() == theirs, "3 of 4 slots: the limited project wants none"


async def test_a_dispatcher_whose_lease_another_took_grants_nothing(queue: Queue) -> None:
    """A dispatcher cut off mid-pass comes back after another took the lease: its grants are
    refused in the statement that would write them; the holder's go through, in its name."""
    project = await queue.project("a", max_parallel=10)
    await queue.queue(project, 2)
    admission = AdmissionStore(queue.engine)
    assert await admission.lead("dispatcher-old", 0.001)
    heads = await admission.heads(project, 2)
    assert await admission.lead("dispatcher-new", 10), "the old lease ran out"
    assert await admission.admit(heads, leader="dispatcher-old") == []
    granted = await admission.admit(heads, leader="dispatcher-new")
    assert [run.admitted_by for run in granted] == ["dispatcher-new", "dispatcher-new"]
