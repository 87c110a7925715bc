"""Successors (dispatch.successors) against SQLite, without Temporal: with every slot busy,
each running run gets one queued run to take its slot, and no limit is broken by it."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.successors import pair
from store.admission import AdmissionStore, Candidate
from store.models import Project, Run, utcnow
from store.queue import position_column, queued_count, queued_page
from store.runs import RunStore
from tests.support.admission_queue import Queue


async def successor_of(queue: Queue, job_id: str) -> str | None:
    """The job whose slot the run was admitted to take over, if any."""
    async with AsyncSession(queue.engine) as session:
        run = (await session.exec(select(Run).where(Run.job_id == job_id))).one()
        if run.successor_of is None:
            return None
        holder = await session.get(Run, run.successor_of)
        assert holder is not None
        return holder.job_id


async def one_busy_slot(queue: Queue, queued: int) -> tuple[int, list[str]]:
    """A project with max_parallel 1 and `queued` runs, the first running on worker-1 (one
    slot); the successor not chosen yet."""
    project = await queue.project("a", max_parallel=1)
    runs = await queue.queue(project, queued)
    await queue.workers.beat("worker-1", max_sessions=1)
    assert await queue.granted() == [runs[0]]
    assert await queue.granted() == [], "no successor for a run that has no context yet"
    await RunStore(queue.engine).mark_started(runs[0], utcnow(), "worker-1")
    return project, runs


async def test_a_busy_slot_gets_one_successor_which_takes_it_over(queue: Queue) -> None:
    _, (first, second, third) = await one_busy_slot(queue, 3)
    runs, admission = RunStore(queue.engine), AdmissionStore(queue.engine)
    assert await queue.granted() == [second]
    assert await successor_of(queue, second) == first
    assert await queue.granted() == [], "one successor per slot"
    assert await admission.occupied() == 1, "the slot is counted once, for its holder"
    await runs.mark_started(second, utcnow(), "worker-1", took_over=first)
    assert await admission.occupied() == 1, "the successor holds it now"
    assert await queue.granted() == [third]
    assert await successor_of(queue, third) == second


async def test_a_successor_of_another_project_takes_room_in_its_own_at_once(
    queue: Queue,
) -> None:
    busy, other = await queue.project("busy", max_parallel=2), await queue.project("other", 1)
    holders = await queue.queue(busy, 2)
    await queue.workers.beat("worker-1", max_sessions=2)
    assert await queue.granted() == holders
    runs = RunStore(queue.engine)
    for holder in holders:
        await runs.mark_started(holder, utcnow(), "worker-1")
    first, _second = await queue.queue(other, 2)
    assert await queue.granted() == [first], "'other' may hold one slot, waiting or not"
    assert await successor_of(queue, first) == holders[0], "the run that started first"


async def test_a_run_on_a_worker_that_left_gets_no_successor(queue: Queue) -> None:
    await one_busy_slot(queue, 2)
    await queue.workers.remove("worker-1")
    assert await queue.granted() == []


def holder(row_id: int, project_id: int) -> Run:
    return Run(id=row_id, job_id=f"run-{row_id}", project_id=project_id)


def test_a_successor_takes_the_slot_of_a_run_of_its_own_project_first() -> None:
    holders = [holder(1, project_id=10), holder(2, project_id=20)]
    chosen = [Candidate(row_id=3, project_id=20, priority_key=3)]
    assert pair(chosen, holders) == {3: 2}
    chosen.append(Candidate(row_id=4, project_id=30, priority_key=3))
    assert pair(chosen, holders) == {3: 2, 4: 1}, "another project's: the earliest holder left"


async def test_a_waiting_successor_takes_a_slot_that_frees_elsewhere_if_its_project_may(
    queue: Queue,
) -> None:
    project, (first, second) = await one_busy_slot(queue, 2)
    assert await queue.granted() == [second]
    await queue.workers.beat("worker-2", max_sessions=1)
    await queue.granted()
    assert await successor_of(queue, second) == first, "max_parallel 1: it must wait"
    async with AsyncSession(queue.engine) as session:
        limited = await session.get(Project, project)
        assert limited is not None
        limited.max_parallel = 2
        session.add(limited)
        await session.commit()
    await queue.granted()
    assert await successor_of(queue, second) is None, "released to worker-2's free slot"
    assert await AdmissionStore(queue.engine).occupied() == 2


async def test_a_waiting_successor_keeps_its_place_at_the_head_of_its_project_s_line(
    queue: Queue,
) -> None:
    project, (first, second, third) = await one_busy_slot(queue, 3)
    assert await queue.granted() == [second]
    [fourth] = await queue.queue(project, 1)

    async def positions() -> list[int | None]:
        async with AsyncSession(queue.engine) as session:
            found = await session.exec(
                select(Run.job_id, position_column()).where(Run.project_id == project)
            )
            at = dict(found.all())
        return [at[job] for job in (first, second, third, fourth)]

    assert await positions() == [None, 1, 2, 3]
    async with AsyncSession(queue.engine) as session:
        page = await queued_page(session, project, 0, 10)
        total = await queued_count(session, project)
    assert [(position, run.job_id) for position, run in page] == [
        (1, second),
        (2, third),
        (3, fourth),
    ]
    assert total == 3
    await RunStore(queue.engine).requeue(second)  # its slot was not handed over
    assert await positions() == [None, 1, 2, 3], "back in line, its position does not rise"


async def test_after_a_worker_is_lost_successors_give_up_their_promised_slots_to_its_runs(
    queue: Queue,
) -> None:
    """Worker-2 is lost with its run: the slots of worker-1 go to whoever waits longest (the
    lost run, opening a session anew), not to a successor promised one, and no new successor
    is chosen while more slots are held than the live workers have."""
    project = await queue.project("a", max_parallel=4)
    first, lost, *waiting = await queue.queue(project, 4)
    await queue.workers.beat("worker-1", max_sessions=1)
    await queue.workers.beat("worker-2", max_sessions=1)
    assert await queue.granted() == [first, lost]
    runs = RunStore(queue.engine)
    await runs.mark_started(first, utcnow(), "worker-1")
    await runs.mark_started(lost, utcnow(), "worker-2")
    promised = await queue.granted()
    assert len(promised) == 2 and await successor_of(queue, promised[0]) is not None
    await queue.workers.mark_lost("worker-2")
    assert await queue.granted() == [], "no new grant, no new successor"
    holders = {run: await successor_of(queue, run) for run in promised}
    assert first not in holders.values(), "worker-1's slot goes to whoever waits longest"
