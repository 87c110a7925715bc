"""Retention: keep a project's newest finished runs (like Bull's removeOnComplete 100 /
removeOnFail 200) and delete older ones together with their artifacts."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_state import FAILED_STATES, RunState
from store.models import Project, Run

COMPLETED_STATES = (RunState.COMPLETED,)
"""Cancelled and timed-out runs count as failed, as in the queue status."""


class Retention:
    """Deletes finished runs beyond what a project keeps."""

    def __init__(self, engine: AsyncEngine, artifacts_dir: Path) -> None:
        self._engine = engine
        self._artifacts_dir = Path(artifacts_dir)

    async def apply_for_jobs(self, job_ids: set[str]) -> int:
        """Trim the finished runs of these jobs' projects to each project's keep_completed /
        keep_failed; how many runs went."""
        async with AsyncSession(self._engine) as session:
            projects = (
                await session.exec(
                    select(Project).where(
                        col(Project.id).in_(
                            select(Run.project_id).where(col(Run.job_id).in_(job_ids))
                        )
                    )
                )
            ).all()
        removed = 0
        for project in projects:
            assert project.id is not None
            removed += await self.clean(project.id, COMPLETED_STATES, project.keep_completed)
            removed += await self.clean(project.id, FAILED_STATES, project.keep_failed)
        return removed

    async def clean(self, project_id: int, states: tuple[str, ...], keep: int) -> int:
        """Delete the project's runs in `states` except the newest `keep`, and their artifacts."""
        async with AsyncSession(self._engine) as session:
            old = (
                await session.exec(
                    select(Run.id, Run.job_id)
                    .where(col(Run.project_id) == project_id, col(Run.state).in_(states))
                    .order_by(col(Run.id).desc())
                    .offset(keep)
                )
            ).all()
            if not old:
                return 0
            await session.exec(  # type: ignore[call-overload]
                delete(Run).where(col(Run.id).in_([row_id for row_id, _job in old]))
            )
            await session.commit()
        await asyncio.to_thread(self._remove_artifacts, [job for _id, job in old])
        return len(old)

    def _remove_artifacts(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            folder = self._artifacts_dir / job_id
            if folder.is_dir() and folder.parent == self._artifacts_dir:
                shutil.rmtree(folder, ignore_errors=True)
