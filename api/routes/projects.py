"""Projects: created with the admin token; each gets a token shown once."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, status
from sqlalchemy.exc import IntegrityError

from api.deps import AdminDep, ProjectDep, SessionDep, hash_token
from api.errors import ApiError
from api.schemas import ProjectCreate, ProjectCreated, ProjectPublic
from store.models import Project

router = APIRouter(prefix="/api/projects", tags=["projects"])


@router.post("", response_model=ProjectCreated, status_code=status.HTTP_201_CREATED)
async def create_project(
    body: ProjectCreate, _admin: AdminDep, session: SessionDep
) -> ProjectCreated:
    """Create a project (admin token); the response holds its token, shown only this once."""
    token = secrets.token_urlsafe(32)
    project = Project(name=body.name, max_parallel=body.max_parallel, token_hash=hash_token(token))
    session.add(project)
    try:
        await session.commit()
    except IntegrityError:
        raise ApiError(409, "project_exists", f"a project named {body.name!r} exists") from None
    assert project.id is not None
    return ProjectCreated(
        id=project.id,
        name=project.name,
        max_parallel=project.max_parallel,
        paused=False,
        token=token,
    )


@router.get("/me", response_model=ProjectPublic)
async def my_project(project: ProjectDep) -> ProjectPublic:
    """The project the token belongs to."""
    assert project.id is not None
    return ProjectPublic(
        id=project.id, name=project.name, max_parallel=project.max_parallel, paused=project.paused
    )
