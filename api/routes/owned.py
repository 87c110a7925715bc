"""Loading rows that belong to the caller's project; anything else is 404."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from api.errors import not_found
from store.models import Project

Row = TypeVar("Row", bound=SQLModel)


async def owned(
    session: AsyncSession, model: type[Row], key: int, project: Project, kind: str
) -> Row:
    """The row with primary key `key` if it belongs to `project`, else 404 (never 403)."""
    row = await session.get(model, key) if 0 < key < 2**63 else None
    if row is None or getattr(row, "project_id", None) != project.id:
        raise not_found(kind, key)
    return row
