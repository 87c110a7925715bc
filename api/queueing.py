"""Queueing runs: Run rows with their positions; the dispatcher admits and starts them."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import ApiError
from api.services import Services
from live.events import queued_event
from store.models import Project, Run, TestCase
from store.new_runs import AuthFlowMissing, new_runs


async def queue_runs(
    session: AsyncSession,
    services: Services,
    project: Project,
    tests: list[TestCase],
    priority: str = "regular",
    suite_id: int | None = None,
    retry_of: str | None = None,
) -> list[tuple[Run, int]]:
    """Queue a run of each test, in order, in one transaction; each with its position.

    The dispatcher admits them and starts their workflows.
    """
    assert project.id is not None
    try:
        runs = await new_runs(session, project, tests, priority, suite_id, retry_of)
    except AuthFlowMissing as missing:
        raise ApiError(409, "auth_flow_missing", str(missing)) from None
    positions = await services.group_commit.enqueue(runs)
    services.dispatcher.wake()
    for run, position in zip(runs, positions, strict=True):
        services.events.publish(
            queued_event(run.job_id, run.project_id, position, run.test_id, priority)
        )
    return list(zip(runs, positions, strict=True))


def queued_message(position: int | None) -> str:
    """The message the frontend shows."""
    return f"Test queued successfully (Position {position} in queue)"
