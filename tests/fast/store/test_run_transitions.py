"""A run's state changes only through store.run_transitions, and only along its arrows
(a real SQLite database with the service's migrations)."""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_result import RunProgress
from core.run_state import RunState
from store import run_transitions
from store.models import Run
from tests.support.run_rows import new_run

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("api", "dispatch", "core", "live", "store", "activities", "workflows", "runner")


@pytest.fixture
async def session(one_project_db: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(one_project_db, expire_on_commit=False) as opened:
        yield opened


async def state_of(session: AsyncSession, run: Run) -> str:
    await session.refresh(run)
    return run.state


async def test_a_run_goes_from_waiting_to_active_to_its_result(session: AsyncSession) -> None:
    run = await new_run(session, "run-a")
    assert await state_of(session, run) == RunState.WAITING
    assert await run_transitions.start(session, "run-a", datetime.now(UTC))
    assert await state_of(session, run) == RunState.ACTIVE
    result = RunProgress(state=RunState.COMPLETED, progress=100, finished_at=datetime.now(UTC))
    assert await run_transitions.finish(session, "run-a", result)
    assert await state_of(session, run) == RunState.COMPLETED
    assert RunProgress.model_validate(run.result) == result, "the stored result reads back"
    assert not await run_transitions.start(session, "run-a", datetime.now(UTC)), "ended is ended"
    assert not await run_transitions.cancel_waiting(session, "run-a")


async def test_a_finished_run_s_slot_is_free_even_if_the_worker_s_note_comes_late(
    session: AsyncSession,
) -> None:
    """The worker notes a context's close in the background; the result may be stored
    first, and then its end is when the slot was freed (the late note changes nothing)."""
    started, closed = datetime(2026, 1, 1, 9, 0, tzinfo=UTC), datetime(2026, 1, 1, 9, 1, tzinfo=UTC)
    run = await new_run(session, "run-late")
    await run_transitions.start(session, "run-late", started)
    result = RunProgress(state=RunState.FAILED, started_at=started, finished_at=closed)
    assert await run_transitions.finish(session, "run-late", result)
    await run_transitions.free_slot(session, "run-late", datetime(2026, 1, 1, 9, 2, tzinfo=UTC))
    await session.refresh(run)
    assert run.slot_freed_at is not None and run.slot_freed_at.replace(tzinfo=UTC) == closed
    noted = await new_run(session, "run-noted")  # the usual order: the note, then the result
    await run_transitions.start(session, "run-noted", started)
    early = datetime(2026, 1, 1, 9, 0, 30, tzinfo=UTC)
    await run_transitions.free_slot(session, "run-noted", early)
    await run_transitions.finish(session, "run-noted", result)
    await session.refresh(noted)
    assert noted.slot_freed_at is not None and noted.slot_freed_at.replace(tzinfo=UTC) == early
    waiting = await new_run(session, "run-never")  # cancelled in line: it never had a slot
    await run_transitions.finish(session, "run-never", RunProgress(state=RunState.CANCELLED))
    await session.refresh(waiting)
    assert waiting.slot_freed_at is None


async def test_only_a_waiting_run_is_cancelled_from_the_queue(session: AsyncSession) -> None:
    waiting, active = await new_run(session, "run-w"), await new_run(session, "run-x")
    await run_transitions.start(session, "run-x", datetime.now(UTC))
    assert await run_transitions.cancel_waiting(session, "run-w")
    assert not await run_transitions.cancel_waiting(session, "run-x")
    assert await state_of(session, waiting) == RunState.CANCELLED
    assert await state_of(session, active) == RunState.ACTIVE


async def test_no_run_finishes_or_settles_in_an_unfinished_state(session: AsyncSession) -> None:
    run = await new_run(session, "run-s")
    assert run.id is not None
    with pytest.raises(ValueError, match="cannot finish as active"):
        await run_transitions.finish(session, "run-s", RunProgress(state=RunState.ACTIVE))
    with pytest.raises(ValueError, match="cannot settle as waiting"):
        await run_transitions.settle(session, run.id, RunState.WAITING, "no")
    assert await run_transitions.settle(session, run.id, RunState.FAILED, "its workflow is gone")
    assert await state_of(session, run) == RunState.FAILED


def test_no_code_but_run_transitions_writes_a_run_s_state() -> None:
    """No `.values(state=...)` update and no row with a "state" key outside the module."""
    writers = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if path == REPO / "store" / "run_transitions.py":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "values"
                    and any(keyword.arg == "state" for keyword in node.keywords)
                ):
                    writers.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not writers, writers


async def test_a_cut_off_worker_s_late_writes_for_an_earlier_session_attempt_are_refused(
    session: AsyncSession,
) -> None:
    """Attempt 1's worker was cut off and the run started attempt 2 elsewhere: what attempt
    1's worker writes when it comes back (its start, its slot freed) changes nothing."""
    run = await new_run(session, "run-moved")
    now = datetime.now(UTC)
    assert await run_transitions.start(session, "run-moved", now, "worker-a", session_attempt=1)
    assert await run_transitions.start(session, "run-moved", now, "worker-b", session_attempt=2)
    assert not await run_transitions.free_slot(session, "run-moved", now, session_attempt=1)
    assert not await run_transitions.start(session, "run-moved", now, "worker-a", session_attempt=1)
    await session.refresh(run)
    assert (run.worker_id, run.session_attempt, run.slot_freed_at) == ("worker-b", 2, None)
    assert await run_transitions.free_slot(session, "run-moved", now, session_attempt=2)
    await session.refresh(run)
    assert run.slot_freed_at is not None, "the latest attempt's close frees the slot"
