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

from store.models import Project, Run

COMPLETED_STATES = ("completed",)
FAILED_STATES = ("failed", "cancelled", "timed_out")
"""Cancelled and timed-out runs count as failed, as in the queue status."""


class Retention:
    """Deletes finished runs beyond what a project keeps."""

    def __init__(self, engine: AsyncEngine, artifacts_dir: Path) -> None:
        self._engine = engine
        self._artifacts_dir = Path(artifacts_dir)

    async def apply_for_job(self, job_id: str) -> int:
        """Trim the finished runs of the job's project to its keep_completed / keep_failed."""
        async with AsyncSession(self._engine) as session:
            project = (
                await session.exec(
                    select(Project)
                    .join(Run, col(Run.project_id) == Project.id)
                    .where(col(Run.job_id) == job_id)
                )
            ).first()
        if project is None or project.id is None:
            return 0
        project_id = project.id
        removed = await self.clean(project_id, COMPLETED_STATES, project.keep_completed)
        return removed + await self.clean(project_id, FAILED_STATES, project.keep_failed)

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
                delete(Run).where(col(Run.id).in_([run_id for run_id, _job in old]))
            )
            await session.commit()
        await asyncio.to_thread(self._remove_artifacts, [job for _id, job in old])
        return len(old)

    def _remove_artifacts(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            folder = self._artifacts_dir / job_id
            if folder.is_dir() and folder.parent == self._artifacts_dir:
                shutil.rmtree(folder, ignore_errors=True)
