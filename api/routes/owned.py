"""Loading rows that belong to the caller's project; anything else is 404."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import not_found
from store.models import AuthFlow, Project

Row = TypeVar("Row", bound=SQLModel)


MAX_ROW_ID = 2**62


def as_row_id(value: object) -> int | None:
    """A value usable as a primary key (a positive integer the databases can hold), or None."""
    text = str(value)
    if not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ROW_ID else None


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
    row_id = as_row_id(key)
    flow = await session.get(AuthFlow, row_id) if row_id is not None else None
    return flow if flow is not None and flow.project_id == project.id else None
