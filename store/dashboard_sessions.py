"""The dashboard's sessions, kept on the server: started at sign-in, checked on every page,
ended by sign-out, by a token's rotation, or by the admin."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import DashboardSession, as_utc, utcnow

SEEN_EVERY = timedelta(minutes=1)
"""How stale `last_seen_at` may get before a page writes it again."""


async def start(
    session: AsyncSession,
    id_hash: str,
    project_id: int | None,
    token_tag: str,
    lifetime: timedelta,
    user_agent: str,
) -> DashboardSession:
    """A new session, live until `lifetime` from now unless ended sooner."""
    row = DashboardSession(
        id_hash=id_hash,
        project_id=project_id,
        token_tag=token_tag,
        expires_at=utcnow() + lifetime,
        user_agent=user_agent[:200],
    )
    session.add(row)
    await session.commit()
    return row


async def live(session: AsyncSession, id_hash: str) -> DashboardSession | None:
    """The session if it is neither ended nor expired (its last sighting noted, at most once a
    minute)."""
    row = await session.get(DashboardSession, id_hash)
    now = utcnow()
    if row is None or row.ended_at is not None or as_utc(row.expires_at) <= now:
        return None
    if now - as_utc(row.last_seen_at) > SEEN_EVERY:
        row.last_seen_at = now
        session.add(row)
        await session.commit()
    return row


async def end(session: AsyncSession, id_hash: str) -> None:
    """End one session (sign-out)."""
    await session.exec(  # type: ignore[call-overload]
        update(DashboardSession)
        .where(col(DashboardSession.id_hash) == id_hash)
        .values(ended_at=utcnow())
    )
    await session.commit()


async def end_all(session: AsyncSession, project_id: int | None, commit: bool = True) -> int:
    """End every live session of a project (None: the admin's); how many were live."""
    result = await session.exec(  # type: ignore[call-overload]
        update(DashboardSession)
        .where(_of_project(project_id), col(DashboardSession.ended_at).is_(None))
        .values(ended_at=utcnow())
    )
    if commit:
        await session.commit()
    return int(result.rowcount or 0)


async def live_of(session: AsyncSession, project_id: int | None) -> list[DashboardSession]:
    """A project's live sessions, newest first."""
    rows = await session.exec(
        select(DashboardSession)
        .where(
            _of_project(project_id),
            col(DashboardSession.ended_at).is_(None),
            col(DashboardSession.expires_at) > utcnow(),
        )
        .order_by(col(DashboardSession.created_at).desc())
    )
    return list(rows.all())


def _of_project(project_id: int | None):  # type: ignore[no-untyped-def]
    column = col(DashboardSession.project_id)
    return column.is_(None) if project_id is None else column == project_id
