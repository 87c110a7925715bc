"""Idempotency keys: the first request with a key (per project) is served, the others get its
answer. A key is taken by inserting its row (the unique constraint decides between
simultaneous requests); the answer is stored once there is one; keys expire after a day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from store.models import IdempotentRequest, utcnow

KEPT_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Earlier:
    """The request that took the key first: its body's hash and its answer (None while it is
    still being served)."""

    request_hash: str
    status_code: int | None
    response_body: str | None


class IdempotencyKeys:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def _session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def take(self, project_id: int, key: str, request_hash: str) -> Earlier | None:
        """Take the key for this request: None if taken now, else the earlier request."""
        async with self._session() as session:
            await session.exec(  # type: ignore[call-overload]
                delete(IdempotentRequest).where(
                    *_the_key(project_id, key), col(IdempotentRequest.created_at) < _expired()
                )
            )
            session.add(
                IdempotentRequest(project_id=project_id, key=key, request_hash=request_hash)
            )
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
        return await self.earlier(project_id, key)

    async def earlier(self, project_id: int, key: str) -> Earlier | None:
        async with self._session() as session:
            found = await session.exec(select(IdempotentRequest).where(*_the_key(project_id, key)))
            row = found.first()
        if row is None:
            return None
        return Earlier(row.request_hash, row.status_code, row.response_body)

    async def answer(self, project_id: int, key: str, status_code: int, body: str) -> None:
        """The request that took the key was answered."""
        async with self._session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(IdempotentRequest)
                .where(*_the_key(project_id, key))
                .values(status_code=status_code, response_body=body)
            )
            await session.commit()

    async def release(self, project_id: int, key: str) -> None:
        """The request failed without an answer worth keeping: the key is free again."""
        async with self._session() as session:
            await session.exec(  # type: ignore[call-overload]
                delete(IdempotentRequest).where(*_the_key(project_id, key))
            )
            await session.commit()

    async def purge(self) -> int:
        """Forget every key older than a day; how many."""
        async with self._session() as session:
            gone = await session.exec(  # type: ignore[call-overload]
                delete(IdempotentRequest).where(col(IdempotentRequest.created_at) < _expired())
            )
            await session.commit()
            return int(gone.rowcount or 0)


def _the_key(project_id: int, key: str) -> tuple[Any, Any]:
    """The row of one project's key."""
    return col(IdempotentRequest.project_id) == project_id, col(IdempotentRequest.key) == key


def _expired() -> datetime:
    """Keys taken before this moment are forgotten."""
    return utcnow() - KEPT_FOR
