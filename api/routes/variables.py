"""A project's variables and secrets, and its named environments that override them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ProjectDep, ServicesDep, SessionDep
from api.errors import ApiError
from api.variable_schemas import (
    ENVIRONMENT_NAME,
    EnvironmentSummary,
    VariablesBody,
    VariablesPublic,
)
from core.secrets import SecretBox
from core.variables import BASE_URL, missing_message, references
from store.models import Schedule, VariableSet
from store.variables import (
    PROJECT_OWN,
    defined_names,
    save_variable_set,
    variable_set,
    variable_sets,
)

router = APIRouter(prefix="/api/projects/me", tags=["variables"])
Environment = Annotated[str, Path(pattern=ENVIRONMENT_NAME, description="e.g. `staging`")]


def _public(row: VariableSet | None, environment: str | None) -> VariablesPublic:
    if row is None:
        return VariablesPublic(environment=environment, variables={}, secrets=[], updated_at=None)
    return VariablesPublic(
        environment=row.environment or None,
        variables=row.variables,
        secrets=row.secret_names,
        updated_at=row.updated_at,
    )


async def _replace(
    session: AsyncSession, box: SecretBox, project_id: int, environment: str, body: VariablesBody
) -> VariableSet:
    """Store `body` as the set; a secret given as null keeps its stored value."""
    stored = await variable_set(session, project_id, environment)
    kept = box.open(stored.sealed_secrets) if stored and stored.sealed_secrets else {}
    secrets: dict[str, str] = {}
    for name, value in body.secrets.items():
        if value is None and name not in kept:
            raise ApiError(422, "invalid_request", f"secrets.{name}: no stored value to keep")
        secrets[name] = kept[name] if value is None else value
    sealed = box.seal(secrets) if secrets else None
    return await save_variable_set(
        session, project_id, environment, dict(body.variables), sorted(secrets), sealed
    )


@router.get("/variables", response_model=VariablesPublic)
async def get_variables(project: ProjectDep, session: SessionDep) -> VariablesPublic:
    """The project's own variables, and the names of its secrets (never their values)."""
    assert project.id is not None
    return _public(await variable_set(session, project.id), None)


@router.put("/variables", response_model=VariablesPublic)
async def put_variables(
    body: VariablesBody, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> VariablesPublic:
    """Replace the project's own variables and secrets; every environment overrides them."""
    assert project.id is not None
    _check_base_url(body, services)
    return _public(await _replace(session, services.secrets, project.id, PROJECT_OWN, body), None)


@router.get("/environments", response_model=list[EnvironmentSummary])
async def list_environments(project: ProjectDep, session: SessionDep) -> list[EnvironmentSummary]:
    """The project's environments, by name, with the names they define."""
    assert project.id is not None
    return [
        EnvironmentSummary(
            name=row.environment,
            variables=sorted(row.variables),
            secrets=row.secret_names,
            updated_at=row.updated_at,
        )
        for row in await variable_sets(session, project.id)
        if row.environment != PROJECT_OWN
    ]


@router.get("/environments/{name}", response_model=VariablesPublic)
async def get_environment(
    name: Environment, project: ProjectDep, session: SessionDep
) -> VariablesPublic:
    """One environment's variables, and the names of its secrets."""
    assert project.id is not None
    return _public(await existing_environment(session, project.id, name), name)


@router.put("/environments/{name}", response_model=VariablesPublic)
async def put_environment(
    name: Environment,
    body: VariablesBody,
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
) -> VariablesPublic:
    """Make or replace an environment: variables that override the project's own."""
    assert project.id is not None
    _check_base_url(body, services)
    return _public(await _replace(session, services.secrets, project.id, name, body), name)


@router.delete(
    "/environments/{name}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
async def delete_environment(name: Environment, project: ProjectDep, session: SessionDep) -> None:
    """Delete an environment; 409 while a schedule runs in it."""
    assert project.id is not None
    row = await existing_environment(session, project.id, name)
    scheduled = await session.exec(
        select(Schedule.id).where(Schedule.project_id == project.id, Schedule.environment == name)
    )
    if users := scheduled.all():
        raise ApiError(
            409,
            "environment_in_use",
            f"environment '{name}' is named by schedule {', '.join(users)}: delete or change"
            " those first",
        )
    await session.delete(row)
    await session.commit()


async def existing_environment(
    session: AsyncSession, project_id: int, name: str, field: str | None = None
) -> VariableSet:
    """The project's environment `name`; 404, or a 422 naming `field` when a request's field
    names it."""
    row = await variable_set(session, project_id, name) if name != PROJECT_OWN else None
    if row is not None:
        return row
    if field is not None:
        raise ApiError(422, "invalid_request", f"{field}: environment '{name}' not found")
    raise ApiError(404, "environment_not_found", f"environment '{name}' not found")


def _check_base_url(body: VariablesBody, services: ServicesDep) -> None:
    """422 for a BASE_URL the egress policy can never let a run reach."""
    base = body.variables.get(BASE_URL)
    if base and (reason := services.settings.egress_policy.refuse_url(base)):
        raise ApiError(
            422, "egress_blocked", f"variables.{BASE_URL}: blocked by the egress policy: {reason}"
        )


async def check_references(
    session: AsyncSession, project_id: int, definition: dict[str, Any]
) -> None:
    """422 naming the step and the variable of every reference that neither the project nor
    any of its environments defines."""
    used = references(definition)
    if not used:
        return
    defined = defined_names(await variable_sets(session, project_id))
    scope = "the project or any of its environments"
    missing = [missing_message(where, name, scope) for where, name in used if name not in defined]
    if missing:
        raise ApiError(422, "invalid_request", "; ".join(missing))
