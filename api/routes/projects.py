"""Projects: created with the admin token; each gets a token shown once. A project changes its
own settings within the limits the admin sets; only the admin changes the limits."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, status
from sqlalchemy.exc import IntegrityError

from api.deps import AdminDep, ProjectDep, ServicesDep, SessionDep, hash_token
from api.errors import ApiError, not_found
from api.schemas import (
    DashboardSessionPublic,
    Done,
    ProjectAdminChange,
    ProjectCreate,
    ProjectCreated,
    ProjectPublic,
    ProjectSettings,
    ProjectToken,
)
from core.config import Settings
from core.limits import ProjectLimits, merged_overrides
from store import dashboard_sessions
from store.models import Project

router = APIRouter(prefix="/api/projects", tags=["projects"])
admin_router = APIRouter(prefix="/api/admin/projects", tags=["admin"])


@router.post("", response_model=ProjectCreated, status_code=status.HTTP_201_CREATED)
async def create_project(
    body: ProjectCreate, _admin: AdminDep, session: SessionDep, services: ServicesDep
) -> ProjectCreated:
    """Create a project (admin token); the response holds its token, shown only this once."""
    token = secrets.token_urlsafe(32)
    defaults = services.settings
    overrides = body.limits.model_dump(exclude_none=True) if body.limits else None
    project = Project(
        name=body.name,
        max_parallel=body.max_parallel,
        token_hash=hash_token(token),
        keep_completed=defaults.keep_completed
        if body.keep_completed is None
        else body.keep_completed,
        keep_failed=defaults.keep_failed if body.keep_failed is None else body.keep_failed,
        limits=overrides,
    )
    _within_limits(project, defaults.limits_for(overrides))
    session.add(project)
    try:
        await session.commit()
    except IntegrityError:
        raise ApiError(409, "project_exists", f"a project named {body.name!r} exists") from None
    return ProjectCreated(**public(project, defaults).model_dump(), token=token)


@router.get("/me", response_model=ProjectPublic)
async def my_project(project: ProjectDep, services: ServicesDep) -> ProjectPublic:
    """The project the token belongs to, with the limits that apply to it."""
    return public(project, services.settings)


@router.patch("/me", response_model=ProjectPublic)
async def change_my_project(
    body: ProjectSettings, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> ProjectPublic:
    """Change max_parallel or retention, within the project's limits; a new max_parallel
    applies to the next admission."""
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(project, name, value)
    _within_limits(project, services.settings.limits_for(project.limits))
    session.add(project)
    await session.commit()
    services.dispatcher.wake()
    return public(project, services.settings)


@router.post("/me/token", response_model=ProjectToken)
async def rotate_my_token(project: ProjectDep, session: SessionDep) -> ProjectToken:
    """A new token for the project; the one that made this request stops working at once."""
    token = secrets.token_urlsafe(32)
    project.token_hash = hash_token(token)
    session.add(project)
    await dashboard_sessions.end_all(session, project.id, commit=False)
    await session.commit()
    return ProjectToken(token=token)


@admin_router.patch("/{project_id}", response_model=ProjectPublic)
async def change_project(
    project_id: int,
    body: ProjectAdminChange,
    _admin: AdminDep,
    session: SessionDep,
    services: ServicesDep,
) -> ProjectPublic:
    """Set a project's limits (a null limit restores the default) or its max_parallel."""
    project = await _existing(session, project_id)
    if body.limits is not None:
        project.limits = merged_overrides(project.limits, body.limits)
    if body.max_parallel is not None:
        project.max_parallel = body.max_parallel
    limits = services.settings.limits_for(project.limits)
    project.max_parallel = min(project.max_parallel, limits.max_parallel)
    project.keep_completed = min(project.keep_completed, limits.max_keep)
    project.keep_failed = min(project.keep_failed, limits.max_keep)
    session.add(project)
    await session.commit()
    services.dispatcher.wake()
    return public(project, services.settings)


@admin_router.get("/{project_id}/sessions", response_model=list[DashboardSessionPublic])
async def project_sessions(
    project_id: int, _admin: AdminDep, session: SessionDep
) -> list[DashboardSessionPublic]:
    """The project's live dashboard sessions, newest first."""
    await _existing(session, project_id)
    return [
        DashboardSessionPublic(
            id=row.id_hash[:12],
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            user_agent=row.user_agent,
        )
        for row in await dashboard_sessions.live_of(session, project_id)
    ]


@admin_router.delete("/{project_id}/sessions", response_model=Done)
async def end_project_sessions(project_id: int, _admin: AdminDep, session: SessionDep) -> Done:
    """End every dashboard session of the project at once (its token keeps working)."""
    await _existing(session, project_id)
    ended = await dashboard_sessions.end_all(session, project_id)
    return Done(message=f"{ended} dashboard session(s) ended")


async def _existing(session: SessionDep, project_id: int) -> Project:
    project = await session.get(Project, project_id) if 0 < project_id < 2**62 else None
    if project is None:
        raise not_found("project", project_id)
    return project


def _within_limits(project: Project, limits: ProjectLimits) -> None:
    """422 if the project's own settings exceed its limits."""
    if project.max_parallel > limits.max_parallel:
        raise ApiError(
            422,
            "limit_exceeded",
            f"max_parallel: at most {limits.max_parallel} for this project (the admin's limit)",
        )
    for name in ("keep_completed", "keep_failed"):
        if getattr(project, name) > limits.max_keep:
            raise ApiError(
                422,
                "limit_exceeded",
                f"{name}: at most {limits.max_keep} for this project (the admin's limit)",
            )


def public(project: Project, settings: Settings) -> ProjectPublic:
    assert project.id is not None
    return ProjectPublic(
        id=project.id,
        name=project.name,
        max_parallel=project.max_parallel,
        paused=project.paused,
        keep_completed=project.keep_completed,
        keep_failed=project.keep_failed,
        limits=settings.limits_for(project.limits),
    )
