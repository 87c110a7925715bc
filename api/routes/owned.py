"""Loading rows that belong to the caller's project; anything else is 404."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import not_found
from store.ids import as_row_id
from store.models import AuthFlow, Project
from store.new_runs import auth_flow_of

Row = TypeVar("Row", bound=SQLModel)


async def owned(
    session: AsyncSession, model: type[Row], key: int, project: Project, kind: str
) -> Row:
    """The row with primary key `key` if it belongs to `project`, else 404 (never 403)."""
    row_id = as_row_id(key)
    row = await session.get(model, row_id) if row_id is not None else None
    if row is None or getattr(row, "project_id", None) != project.id:
        raise not_found(kind, key)
    return row


async def project_auth_flow(
    session: AsyncSession, project: Project, key: object
) -> AuthFlow | None:
    """The auth flow `key` if it belongs to `project`."""
    assert project.id is not None
    return await auth_flow_of(session, project.id, as_row_id(key))
