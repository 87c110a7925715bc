"""Activities of a schedule's fire: queue its runs (through the group commit, as the API
does), count the unfinished, cancel them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from core import errors
from core.limits import ProjectLimits
from core.run_state import FINAL_STATES
from dispatch.group_commit import GroupCommit
from dispatch.new_runs import new_runs
from dispatch.run_variables import EnvironmentMissing
from live.publisher import EventPublisher
from store.models import Project, Run, Schedule, Suite, TestCase
from store.new_runs import AuthFlowMissing, SuiteTestsMissing, suite_tests
from store.queue import QueueFull, RunQueue
from workflows.messages import FireRequest

log = logging.getLogger(__name__)


class ScheduleActivities:
    """Bound to the service database and the Temporal client of the worker."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: Client,
        events: EventPublisher,
        limits: ProjectLimits | None = None,
        wake_dispatcher: Callable[[], None] = lambda: None,
    ) -> None:
        self._engine = engine
        self._client = client
        self._intake = GroupCommit(engine, RunQueue(), events, wake_dispatcher, limits=limits)

    async def close(self) -> None:
        """Wait for the queueing writer to finish."""
        await self._intake.idle()

    def _session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    @activity.defn
    async def queue_scheduled_runs(self, request: FireRequest) -> list[str]:
        """Queue a run of the schedule's test (or of each test of its suite) at scheduled
        priority; the job IDs. A retried attempt returns the runs the first one queued."""
        async with self._session() as session:
            existing = await session.exec(
                select(Run.job_id).where(col(Run.job_id).startswith(f"{request.fire_id}-"))
            )
            if found := sorted(existing.all()):
                return found
            schedule = await session.get(Schedule, request.schedule_id)
            if schedule is None:
                return []  # deleted after it fired: nothing to run
            project = await session.get(Project, schedule.project_id)
            assert project is not None
            tests = await self._tests_of(session, schedule)
            job_ids = [f"{request.fire_id}-{i + 1:04d}" for i in range(len(tests))]
            try:
                runs = await new_runs(
                    session,
                    project,
                    tests,
                    priority="scheduled",
                    suite_id=schedule.suite_id,
                    schedule_id=schedule.id,
                    job_ids=job_ids,
                    environment=schedule.environment,
                )
            except (AuthFlowMissing, EnvironmentMissing) as missing:
                raise ApplicationError(str(missing), type=errors.SCHEDULE_TARGET_MISSING) from None
        try:
            await self._intake.enqueue(runs)
        except QueueFull as full:  # this fire queues nothing; the next one may fit
            raise ApplicationError(
                str(full), type=errors.SCHEDULE_QUEUE_FULL, non_retryable=True
            ) from None
        log.info("schedule %s queued %d runs", schedule.id, len(runs))
        return job_ids

    @staticmethod
    async def _tests_of(session: AsyncSession, schedule: Schedule) -> list[TestCase]:
        """What the schedule runs, looked up only within the schedule's own project."""
        if schedule.suite_id is not None:
            suite = await session.get(Suite, schedule.suite_id)
            if suite is None or suite.project_id != schedule.project_id:
                raise ApplicationError(
                    f"suite {schedule.suite_id} is gone", type=errors.SCHEDULE_TARGET_MISSING
                )
            try:
                return await suite_tests(session, suite)
            except SuiteTestsMissing as missing:
                raise ApplicationError(str(missing), type=errors.SCHEDULE_TARGET_MISSING) from None
        test = await session.get(TestCase, schedule.test_id)
        if test is None or test.project_id != schedule.project_id:
            raise ApplicationError(
                f"test {schedule.test_id} is gone", type=errors.SCHEDULE_TARGET_MISSING
            )
        return [test]

    @activity.defn
    async def unfinished_runs(self, job_ids: list[str]) -> int:
        """How many of these runs have not ended yet."""
        async with self._session() as session:
            found = await session.exec(
                select(func.count()).where(
                    col(Run.job_id).in_(job_ids), col(Run.state).not_in(FINAL_STATES)
                )
            )
            return int(found.one())

    @activity.defn
    async def cancel_runs(self, job_ids: list[str]) -> None:
        """Cancel these runs: waiting ones leave the queue at once, running ones stop."""
        async with self._session() as session:
            for job_id in job_ids:
                await RunQueue.cancel_waiting(session, job_id)
        for job_id in job_ids:
            with contextlib.suppress(Exception):  # not started, or already ended
                await self._client.get_workflow_handle(job_id).cancel()
