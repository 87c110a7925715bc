"""Admin routes: pause and resume the queues of every project at once."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import AdminDep, ServicesDep
from api.schemas import Done
from live.events import queue_event
from store.models import Project

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.post("/queue/pause", response_model=Done)
async def pause_all(_admin: AdminDep, services: ServicesDep) -> Done:
    """Start no new run of any project; running ones finish, waiting ones keep their place."""
    await services.admission.pause_all(True)
    await _tell_every_project(services, paused=True)
    return Done(message="All queues paused")


@router.post("/queue/resume", response_model=Done)
async def resume_all(_admin: AdminDep, services: ServicesDep) -> Done:
    """Start runs again (projects paused on their own stay paused)."""
    await services.admission.pause_all(False)
    services.dispatcher.wake()
    await _tell_every_project(services, paused=False)
    return Done(message="All queues resumed")


async def _tell_every_project(services: ServicesDep, paused: bool) -> None:
    """Every project's dashboards hear that the queues were paused or resumed."""
    async with AsyncSession(services.engine) as session:
        ids = (await session.exec(select(Project.id))).all()
    for project_id in ids:
        if project_id is not None:
            services.events.publish(queue_event(project_id, paused))
