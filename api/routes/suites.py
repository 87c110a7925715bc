"""Suites: named lists of the project's tests."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlmodel import col, select

from api.deps import ProjectDep, ServicesDep, SessionDep
from api.errors import ApiError
from api.routes.owned import owned
from api.routes.schedules import delete_schedules_of
from api.schemas import SuiteCreate, SuitePublic
from store.models import Project, Suite, TestCase

router = APIRouter(prefix="/api/suites", tags=["suites"])


def _public(row: Suite) -> SuitePublic:
    assert row.id is not None
    return SuitePublic(id=row.id, name=row.name, test_ids=row.test_ids, created_at=row.created_at)


@router.post("", response_model=SuitePublic, status_code=status.HTTP_201_CREATED)
async def create_suite(body: SuiteCreate, project: ProjectDep, session: SessionDep) -> SuitePublic:
    """Create a suite of the project's tests."""
    await _check_members(session, project, body)
    assert project.id is not None
    row = Suite(project_id=project.id, name=body.name, test_ids=body.test_ids)
    session.add(row)
    await session.commit()
    return _public(row)


async def _check_members(session: SessionDep, project: Project, body: SuiteCreate) -> None:
    """422 naming the tests of `body` that the project does not have."""
    found = await session.exec(
        select(TestCase.id).where(
            TestCase.project_id == project.id, col(TestCase.id).in_(body.test_ids)
        )
    )
    missing = sorted(set(body.test_ids) - set(found.all()))
    if missing:
        raise ApiError(422, "invalid_request", f"test_ids: tests {missing} not found")


@router.put("/{suite_id}", response_model=SuitePublic)
async def replace_suite(
    suite_id: int, body: SuiteCreate, project: ProjectDep, session: SessionDep
) -> SuitePublic:
    """Rename a suite or change its tests and their order (runs already made keep the suite's
    name as it was)."""
    row = await owned(session, Suite, suite_id, project, "suite")
    await _check_members(session, project, body)
    row.name, row.test_ids = body.name, list(body.test_ids)
    session.add(row)
    await session.commit()
    return _public(row)


@router.get("", response_model=list[SuitePublic])
async def list_suites(project: ProjectDep, session: SessionDep) -> list[SuitePublic]:
    """The project's suites."""
    rows = await session.exec(
        select(Suite).where(Suite.project_id == project.id).order_by(col(Suite.id))
    )
    return [_public(row) for row in rows.all()]


@router.get("/{suite_id}", response_model=SuitePublic)
async def get_suite(suite_id: int, project: ProjectDep, session: SessionDep) -> SuitePublic:
    """One suite."""
    return _public(await owned(session, Suite, suite_id, project, "suite"))


@router.delete("/{suite_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_suite(
    suite_id: int, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Delete a suite and its schedules (named in X-Deleted-Schedules); its tests stay."""
    row = await owned(session, Suite, suite_id, project, "suite")
    deleted = await delete_schedules_of(session, services, row)
    await session.delete(row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers=deleted)
