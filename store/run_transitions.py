"""Every change of a run's state, each a named function: the only writers of `Run.state`.

    (queued) ──▶ waiting ──start──▶ active ──finish──▶ completed | failed | cancelled | timed_out
                    │                  │
                    ├─cancel_waiting──▶ cancelled
                    └──────────────────┴─settle──▶ a final state (its workflow closed unrecorded)

A run enters as `waiting` when its row is written (`store.queue.RunQueue.enqueue`, through
`waiting_row`). Each function commits its session and returns whether the run changed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_result import RunProgress
from core.run_state import FINAL_STATES, UNFINISHED_STATES, RunState
from store.models import Run, utcnow

CANCELLED_WHILE_WAITING = "the run was cancelled"


def waiting_row(fields: dict[str, Any]) -> dict[str, Any]:
    """A new run's row: it enters the queue as `waiting`."""
    return {**fields, "state": RunState.WAITING}


async def start(
    session: AsyncSession,
    job_id: str,
    started_at: datetime,
    worker_id: str | None = None,
    took_over: str | None = None,
    session_attempt: int = 1,
) -> bool:
    """The run got a browser (on `worker_id`) for `session_attempt`: `active` (again, for a
    later attempt). In the slot of run `took_over`, if given, whose slot is free from then on:
    one write, so that the dispatcher never counts that slot twice. False if the run is not
    known, has ended, or a later session attempt started already (a late write: refused)."""
    if took_over is not None:
        await session.exec(_freeing_slot(took_over, started_at))  # type: ignore[call-overload]
    return await _change(
        session,
        (
            col(Run.job_id) == job_id,
            col(Run.state).in_(UNFINISHED_STATES),
            func.coalesce(Run.session_attempt, 0) <= session_attempt,
        ),
        state=RunState.ACTIVE,
        started_at=func.coalesce(Run.started_at, started_at),
        worker_id=worker_id,
        session_attempt=session_attempt,
    )


async def free_slot(
    session: AsyncSession, job_id: str, at: datetime, session_attempt: int | None = None
) -> bool:
    """The run's context closed at `at`: its session slot is free for the next run before
    its result is recorded (an unfinished run's row only; a slot freed before stays so). With
    `session_attempt`, only while that attempt is the run's latest: False for a late write."""
    freeing = _freeing_slot(job_id, at)
    if session_attempt is not None:
        latest = func.coalesce(Run.session_attempt, session_attempt)
        freeing = freeing.where(latest == session_attempt)
    changed = await session.exec(freeing)  # type: ignore[call-overload]
    await session.commit()
    return bool(changed.rowcount)


def _freeing_slot(job_id: str, at: datetime) -> Any:
    return (
        update(Run)
        .where(col(Run.job_id) == job_id, col(Run.state).in_(UNFINISHED_STATES))
        .values(slot_freed_at=func.coalesce(Run.slot_freed_at, at))
    )


async def queue_again(session: AsyncSession, job_id: str) -> bool:
    """A successor whose slot was not handed over goes back in line, in its place (its
    admission undone) for the dispatcher to grant it again; False if it is no longer
    waiting."""
    return await _change(
        session,
        (col(Run.job_id) == job_id, col(Run.state) == RunState.WAITING),
        admitted_at=None,
        admission_sent=False,
        successor_of=None,
    )


async def finish(session: AsyncSession, job_id: str, result: RunProgress) -> bool:
    """The run's workflow recorded its result: the result's final state (doing it again
    stores the same thing). A run that had a context freed its slot at its end at the latest
    (the worker's own note of the close may come after the result: it changes nothing then)."""
    if result.state not in FINAL_STATES:
        raise ValueError(f"a run cannot finish as {result.state}")
    freed: dict[str, Any] = {}
    if result.started_at is not None and result.finished_at is not None:
        freed["slot_freed_at"] = func.coalesce(Run.slot_freed_at, result.finished_at)
    return await _change(
        session,
        (col(Run.job_id) == job_id,),
        state=result.state,
        progress=result.progress,
        flaky=result.flaky,
        error=result.error,
        result=result.model_dump(mode="json"),
        started_at=func.coalesce(Run.started_at, result.started_at),
        finished_at=result.finished_at,
        **freed,
    )


async def cancel_waiting(session: AsyncSession, job_id: str) -> bool:
    """Take a waiting run out of the queue at once; False if it is no longer waiting."""
    return await _change(
        session,
        (col(Run.job_id) == job_id, col(Run.state) == RunState.WAITING),
        state=RunState.CANCELLED,
        finished_at=utcnow(),
        error=CANCELLED_WHILE_WAITING,
    )


async def settle(session: AsyncSession, row_id: int, state: RunState, error: str) -> bool:
    """End an unfinished run whose workflow closed without recording its result."""
    if state not in FINAL_STATES:
        raise ValueError(f"a run cannot settle as {state}")
    return await _change(
        session,
        (col(Run.id) == row_id, col(Run.state).in_(UNFINISHED_STATES)),
        state=state,
        error=error,
        finished_at=utcnow(),
    )


async def _change(session: AsyncSession, where: tuple[Any, ...], **values: Any) -> bool:
    changed = await session.exec(update(Run).where(*where).values(**values))  # type: ignore[call-overload]
    await session.commit()
    return bool(changed.rowcount)
