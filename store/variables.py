"""A project's variable sets: its own (`environment` empty) and its named environments'."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import VariableSet, utcnow

PROJECT_OWN = ""
"""The `environment` of the project's own variables, which every environment overrides."""


async def variable_sets(session: AsyncSession, project_id: int) -> list[VariableSet]:
    """Every set of the project: its own first, then its environments by name."""
    query = (
        select(VariableSet)
        .where(VariableSet.project_id == project_id)
        .order_by(col(VariableSet.environment))
    )
    return list((await session.exec(query)).all())


async def variable_set(
    session: AsyncSession, project_id: int, environment: str = PROJECT_OWN
) -> VariableSet | None:
    """One set, or None if the project has not defined it."""
    query = select(VariableSet).where(
        VariableSet.project_id == project_id, VariableSet.environment == environment
    )
    return (await session.exec(query)).first()


async def save_variable_set(
    session: AsyncSession,
    project_id: int,
    environment: str,
    variables: dict[str, str],
    secret_names: list[str],
    sealed_secrets: str | None,
) -> VariableSet:
    """Replace a set (or make it)."""
    row = await variable_set(session, project_id, environment) or VariableSet(
        project_id=project_id, environment=environment, variables={}, secret_names=[]
    )
    row.variables, row.secret_names = variables, secret_names
    row.sealed_secrets, row.updated_at = sealed_secrets, utcnow()
    session.add(row)
    await session.commit()
    await session.refresh(row)
    return row


def defined_names(sets: list[VariableSet]) -> set[str]:
    """Every name that the project or one of its environments defines."""
    return {name for row in sets for name in [*row.variables, *row.secret_names]}
