"""Admin routes: pause and resume the queues of every project at once."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import AdminDep, ServicesDep
from api.schemas import Done

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.post("/queue/pause", response_model=Done)
async def pause_all(_admin: AdminDep, services: ServicesDep) -> Done:
    """Start no new run of any project; running ones finish, waiting ones keep their place."""
    await services.admission.pause_all(True)
    return Done(message="All queues paused")


@router.post("/queue/resume", response_model=Done)
async def resume_all(_admin: AdminDep, services: ServicesDep) -> Done:
    """Start runs again (projects paused on their own stay paused)."""
    await services.admission.pause_all(False)
    services.dispatcher.wake()
    return Done(message="All queues resumed")
