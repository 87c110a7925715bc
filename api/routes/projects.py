"""Projects: created with the admin token; each gets a token shown once."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, status
from sqlalchemy.exc import IntegrityError

from api.deps import AdminDep, ProjectDep, ServicesDep, SessionDep, hash_token
from api.errors import ApiError
from api.schemas import ProjectCreate, ProjectCreated, ProjectPublic, ProjectSettings
from store.models import Project

router = APIRouter(prefix="/api/projects", tags=["projects"])


@router.post("", response_model=ProjectCreated, status_code=status.HTTP_201_CREATED)
async def create_project(
    body: ProjectCreate, _admin: AdminDep, session: SessionDep, services: ServicesDep
) -> ProjectCreated:
    """Create a project (admin token); the response holds its token, shown only this once."""
    token = secrets.token_urlsafe(32)
    defaults = services.settings
    project = Project(
        name=body.name,
        max_parallel=body.max_parallel,
        token_hash=hash_token(token),
        keep_completed=defaults.keep_completed
        if body.keep_completed is None
        else body.keep_completed,
        keep_failed=defaults.keep_failed if body.keep_failed is None else body.keep_failed,
    )
    session.add(project)
    try:
        await session.commit()
    except IntegrityError:
        raise ApiError(409, "project_exists", f"a project named {body.name!r} exists") from None
    return ProjectCreated(**public(project).model_dump(), token=token)


@router.get("/me", response_model=ProjectPublic)
async def my_project(project: ProjectDep) -> ProjectPublic:
    """The project the token belongs to."""
    return public(project)


@router.patch("/me", response_model=ProjectPublic)
async def change_my_project(
    body: ProjectSettings, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> ProjectPublic:
    """Change max_parallel or retention; a new max_parallel applies to the next admission."""
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(project, name, value)
    session.add(project)
    await session.commit()
    services.dispatcher.wake()
    return public(project)


def public(project: Project) -> ProjectPublic:
    assert project.id is not None
    return ProjectPublic(
        id=project.id,
        name=project.name,
        max_parallel=project.max_parallel,
        paused=project.paused,
        keep_completed=project.keep_completed,
        keep_failed=project.keep_failed,
    )
