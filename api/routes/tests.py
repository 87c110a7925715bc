"""Tests: stored definitions, validated with the run engine's own models."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response, status
from sqlmodel import col, select

from api.deps import ProjectDep, ServicesDep, SessionDep
from api.errors import ApiError, every_problem
from api.reachability import ensure_reachable
from api.routes.owned import owned, project_auth_flow
from api.routes.schedules import delete_schedules_of
from api.routes.variables import check_references
from api.schemas import TestPublic
from core.definition import TestDefinition
from store.models import Project, TestCase, utcnow

router = APIRouter(prefix="/api/tests", tags=["tests"])


def _public(row: TestCase) -> TestPublic:
    assert row.id is not None
    return TestPublic(
        id=row.id,
        name=row.name,
        definition=TestDefinition.model_validate(row.definition),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _check_definition(body: TestDefinition, project: Project, services: ServicesDep) -> None:
    """422 for a definition beyond the project's limits or with URLs that can never load."""
    limits = services.settings.limits_for(project.limits)
    await every_problem(
        _at_most(len(body.steps), limits.max_steps, "steps", " steps"),
        _at_most(body.timeout_s, limits.max_timeout_s, "timeout_s"),
        _reachable(body, services),
    )


async def _at_most(value: int, limit: int, field: str, unit: str = "") -> None:
    if value > limit:
        raise ApiError(422, "limit_exceeded", f"{field}: at most {limit}{unit} for this project")


async def _reachable(body: TestDefinition, services: ServicesDep) -> None:
    ensure_reachable(body, services.settings.egress_policy)


async def _check_auth_flow(session: SessionDep, project: Project, body: TestDefinition) -> None:
    """auth_flow_id must name an auth flow of the same project."""
    if body.auth_flow_id is None:
        return
    if await project_auth_flow(session, project, body.auth_flow_id) is None:
        raise ApiError(
            422, "invalid_request", f"auth_flow_id: auth flow {body.auth_flow_id} not found"
        )


async def check_test(
    body: TestDefinition, project: Project, session: SessionDep, services: ServicesDep
) -> None:
    """Every problem of a test's definition at once (limits, URLs, variables every one of
    them defined by the project or one of its environments, the auth flow): ApiProblems."""
    assert project.id is not None
    await every_problem(
        _check_definition(body, project, services),
        check_references(session, project.id, body.model_dump(mode="json")),
        _check_auth_flow(session, project, body),
    )


@router.post("", response_model=TestPublic, status_code=status.HTTP_201_CREATED)
async def create_test(
    body: TestDefinition, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> TestPublic:
    """Store a test definition."""
    return await store_test(body, project, session, services)


async def store_test(
    body: TestDefinition, project: Project, session: SessionDep, services: ServicesDep
) -> TestPublic:
    """Check a new test against the project's limits and names, and store it."""
    await check_test(body, project, session, services)
    assert project.id is not None
    row = TestCase(project_id=project.id, name=body.name, definition=body.model_dump(mode="json"))
    session.add(row)
    await session.commit()
    return _public(row)


@router.get("", response_model=list[TestPublic])
async def list_tests(
    project: ProjectDep,
    session: SessionDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
) -> list[TestPublic]:
    """The project's tests, oldest first."""
    rows = await session.exec(
        select(TestCase)
        .where(TestCase.project_id == project.id)
        .order_by(col(TestCase.id))
        .offset(offset)
        .limit(limit)
    )
    return [_public(row) for row in rows.all()]


@router.get("/{test_id}", response_model=TestPublic)
async def get_test(test_id: int, project: ProjectDep, session: SessionDep) -> TestPublic:
    """One test."""
    return _public(await owned(session, TestCase, test_id, project, "test"))


@router.put("/{test_id}", response_model=TestPublic)
async def replace_test(
    test_id: int,
    body: TestDefinition,
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
) -> TestPublic:
    """Replace a test's definition (runs already queued keep the one they started with)."""
    row = await owned(session, TestCase, test_id, project, "test")
    await check_test(body, project, session, services)
    row.name, row.definition, row.updated_at = body.name, body.model_dump(mode="json"), utcnow()
    session.add(row)
    await session.commit()
    return _public(row)


@router.delete("/{test_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_test(
    test_id: int, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Delete a test and its schedules (named in X-Deleted-Schedules); its run history stays."""
    row = await owned(session, TestCase, test_id, project, "test")
    deleted = await delete_schedules_of(session, services, row)
    await session.delete(row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=deleted)
