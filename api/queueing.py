"""Queueing runs from the API: through the group commit, its refusals said in HTTP."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import hash_token, invalid_token
from api.errors import ApiError, not_found
from api.schemas import Queued
from api.services import Services
from dispatch.new_runs import TestRunOrder, new_runs
from dispatch.run_variables import EnvironmentMissing
from store.models import Project, Run, TestCase
from store.new_runs import AuthFlowMissing, NewRun, TestMissing, TokenUnknown
from store.queue import QueueFull


async def queue_runs(
    session: AsyncSession,
    services: Services,
    project: Project,
    tests: list[TestCase],
    priority: str = "regular",
    suite_id: int | None = None,
    retry_of: str | None = None,
    environment: str | None = None,
    suite_run_id: str | None = None,
) -> list[tuple[NewRun, int]]:
    """Queue a run of each test, in order, in one transaction, with `environment`'s variables;
    each with its position (the group commit announces them)."""
    try:
        runs = await new_runs(
            session,
            project,
            tests,
            priority,
            suite_id,
            retry_of,
            environment=environment,
            suite_run_id=suite_run_id,
        )
    except AuthFlowMissing as missing:
        raise _auth_flow_missing(missing) from None
    except EnvironmentMissing as missing:
        raise ApiError(422, "invalid_request", f"environment: {missing}") from None
    try:
        positions = await services.group_commit.enqueue(runs)
    except QueueFull as full:
        raise queue_full(full) from None
    return list(zip(runs, positions, strict=True))


async def test_to_retry(session: AsyncSession, project: Project, run: Run) -> TestCase:
    """The test a run of `project` ran, to run it again; 409 if it was deleted."""
    test = await session.get(TestCase, run.test_id) if run.test_id else None
    if test is None or test.project_id != project.id:
        raise ApiError(409, "test_gone", f"the test of job {run.job_id} was deleted")
    return test


async def queue_retry(
    session: AsyncSession, services: Services, project: Project, run: Run, test: TestCase
) -> tuple[NewRun, int]:
    """Queue `test` again for `run`, as it was queued: its priority, suite, environment and
    suite run; the new run and its position."""
    [queued] = await queue_runs(
        session,
        services,
        project,
        [test],
        run.priority,
        run.suite_id,
        retry_of=run.job_id,
        environment=run.environment,
        suite_run_id=run.suite_run_id,
    )
    return queued


async def queue_test_run(
    services: Services, token: str, test_id: int, priority: str
) -> tuple[NewRun, int]:
    """Queue a run of the test for the project whose token this is; the run and its position.

    The token and the test are looked up together with every other request of the batch."""
    order = TestRunOrder(token_hash=hash_token(token), test_id=test_id, priority=priority)
    try:
        queued = await services.group_commit.enqueue_order(order)
    except TokenUnknown:
        raise invalid_token() from None
    except TestMissing:
        raise not_found("test", test_id) from None
    except AuthFlowMissing as missing:
        raise _auth_flow_missing(missing) from None
    except QueueFull as full:
        raise queue_full(full) from None
    return queued


QUEUE_FULL_RETRY_AFTER_S = 30


def queue_full(full: QueueFull) -> ApiError:
    """429: nothing of the request was queued; try again once runs have left the queue."""
    return ApiError(
        429, "queue_full", str(full), headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER_S)}
    )


def _auth_flow_missing(missing: AuthFlowMissing) -> ApiError:
    return ApiError(409, "auth_flow_missing", str(missing))


def queued_message(position: int | None) -> str:
    """The message the frontend shows."""
    return f"Test queued successfully (Position {position} in queue)"


def queued_answer(run: NewRun, position: int | None) -> Queued:
    """The answer to a request that queued one run."""
    return Queued(jobId=run.job_id, position=position, message=queued_message(position))
