"""Webhooks in the database: those an event reaches, the delivery log, and the runs events
are made of."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from core.run_state import FINAL_STATES
from store.models import Project, Run, Webhook, WebhookDelivery, utcnow
from store.suite_runs import suite_run_rows

DELIVERIES_KEPT = 100
"""Attempts kept per webhook in its delivery log."""
QUEUED, RATE_LIMITED = "queued", "rate_limited"
"""A delivery's first row in the log (attempt 0): started, or dropped over the project's rate."""


async def deliveries_of(
    session: AsyncSession, webhook_id: str, limit: int
) -> list[WebhookDelivery]:
    """The webhook's latest delivery attempts, newest first."""
    found = await session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    )
    return list(found.all())


class WebhookStore:
    """What the worker reads and writes for notifications."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def session(self) -> AsyncSession:
        return AsyncSession(self._engine, expire_on_commit=False)

    async def listening(self, project_id: int) -> list[Webhook]:
        """The project's enabled webhooks."""
        async with self.session() as session:
            found = await session.exec(
                select(Webhook).where(Webhook.project_id == project_id, col(Webhook.enabled))
            )
            return list(found.all())

    async def webhook(self, webhook_id: str) -> Webhook | None:
        async with self.session() as session:
            return await session.get(Webhook, webhook_id)

    async def limit_overrides(self, project_id: int) -> dict[str, Any] | None:
        """The admin's limits of the project (None: the defaults)."""
        async with self.session() as session:
            project = await session.get(Project, project_id)
            return project.limits if project else None

    async def started_since(self, project_id: int, since: datetime) -> int:
        """How many deliveries the project's events started since `since` (its rate): their
        `queued` rows (one per delivery; attempts and refusals are not counted)."""
        async with self.session() as session:
            found = await session.exec(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(
                    WebhookDelivery.project_id == project_id,
                    col(WebhookDelivery.created_at) >= since,
                    WebhookDelivery.outcome == QUEUED,
                )
            )
            return int(found.one())

    async def log(self, attempt: WebhookDelivery) -> None:
        """Add an attempt to its webhook's log, which keeps the last DELIVERIES_KEPT."""
        async with self.session() as session:
            session.add(attempt)
            await session.flush()
            assert attempt.id is not None
            await session.exec(  # type: ignore[call-overload]
                delete(WebhookDelivery).where(
                    col(WebhookDelivery.webhook_id) == attempt.webhook_id,
                    col(WebhookDelivery.id) <= attempt.id - DELIVERIES_KEPT,
                )
            )
            await session.commit()

    async def disable(self, webhook_id: str, reason: str) -> None:
        async with self.session() as session:
            await session.exec(  # type: ignore[call-overload]
                update(Webhook)
                .where(col(Webhook.id) == webhook_id)
                .values(enabled=False, disabled_reason=reason[:500], updated_at=utcnow())
            )
            await session.commit()

    async def finished_run(self, job_id: str) -> Run | None:
        """The run, once its result is recorded."""
        async with self.session() as session:
            run = (await session.exec(select(Run).where(Run.job_id == job_id))).first()
            return run if run is not None and run.state in FINAL_STATES else None

    async def previous_fire_run(self, run: Run) -> Run | None:
        """The schedule's finished run of the same test before this one."""
        async with self.session() as session:
            found = await session.exec(
                select(Run)
                .where(
                    Run.schedule_id == run.schedule_id,
                    Run.test_id == run.test_id,
                    col(Run.id) < (run.id or 0),
                    col(Run.state).in_(FINAL_STATES),
                )
                .order_by(col(Run.id).desc())
                .limit(1)
            )
            return found.first()

    async def ended_suite_run(self, run: Run) -> list[Run] | None:
        """The latest runs of the run's suite run if every one has ended (else None)."""
        if run.suite_run_id is None:
            return None
        async with self.session() as session:
            latest, _ = await suite_run_rows(session, run.project_id, run.suite_run_id)
        if not latest or any(r.state not in FINAL_STATES for r in latest):
            return None
        return latest


def minute_ago() -> datetime:
    return utcnow() - timedelta(minutes=1)
