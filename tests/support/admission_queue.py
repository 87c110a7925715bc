"""A service database with its dispatcher and a way to queue runs, for admission tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_result import RunProgress
from core.run_state import RunState
from dispatch.dispatcher import Dispatcher
from dispatch.group_commit import GroupCommit
from store import run_transitions
from store.models import Project
from store.new_runs import NewRun, new_job_id
from store.workers import WorkerRegistry


@dataclass
class Queue:
    """A fresh SQLite service database, its dispatcher, and a way to queue runs."""

    engine: AsyncEngine
    dispatcher: Dispatcher
    intake: GroupCommit
    workers: WorkerRegistry

    async def project(self, name: str, max_parallel: int = 2) -> int:
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            project = Project(name=name, token_hash=f"hash-{name}", max_parallel=max_parallel)
            session.add(project)
            await session.commit()
            assert project.id is not None
            return project.id

    async def queue(self, project_id: int, count: int = 1, priority: str = "regular") -> list[str]:
        runs = [NewRun(new_job_id(), project_id, None, {}, priority) for _ in range(count)]
        await self.intake.enqueue(runs)
        return [run.job_id for run in runs]

    async def granted(self) -> list[str]:
        """One admission pass of the dispatcher, which leads (only the lease's holder grants)."""
        assert await self.dispatcher.lead()
        return [run.job_id for run in await self.dispatcher.grant_once()]

    async def finish(self, job_ids: list[str]) -> None:
        """These runs ended: their slots are free again."""

        async with AsyncSession(self.engine) as session:
            for job_id in job_ids:
                done = RunProgress(state=RunState.COMPLETED, progress=100)
                await run_transitions.finish(session, job_id, done)
