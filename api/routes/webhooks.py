"""A project's webhooks: create, list, change (rotate the secret), delete; their delivery log;
send a test event; redeliver. Deliveries themselves are Temporal's work (notify/)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query, Response, status
from sqlalchemy import delete, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ProjectDep, ServicesDep, SessionDep, TemporalDep
from api.errors import ApiError, not_found
from api.services import Services
from api.webhook_schemas import (
    DeliveryPublic,
    DeliveryStarted,
    WebhookChange,
    WebhookCreate,
    WebhookPublic,
)
from core.webhook_signing import new_secret
from notify.emitter import Notifier
from notify.events import WebhookEvent, test_event
from notify.rules import WebhookRules
from store.models import Project, Webhook, WebhookDelivery, utcnow
from store.webhooks import DELIVERIES_KEPT, WebhookStore, deliveries_of

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


def public(row: Webhook, secret: str | None = None) -> WebhookPublic:
    return WebhookPublic(
        id=row.id,
        name=row.name,
        url=row.url,
        events=row.events,
        format=row.format,
        rules=WebhookRules(**row.rules),
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        secret=secret,
    )


def _reachable(url: str, services: Services) -> None:
    """422 for a URL the egress policy refuses whatever it resolves to (the resolved address
    is decided again at each delivery)."""
    if refusal := services.settings.egress_policy.refuse_url(url):
        raise ApiError(422, "invalid_request", f"url: {refusal}")


def _sealed(secret: str, services: Services) -> str:
    return services.secrets.seal({"secret": secret})


async def owned_webhook(session: AsyncSession, project: Project, webhook_id: str) -> Webhook:
    row = await session.get(Webhook, webhook_id) if len(webhook_id) <= 40 else None
    if row is None or row.project_id != project.id:
        raise not_found("webhook", webhook_id)
    return row


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookPublic)
async def create_webhook(
    body: WebhookCreate, project: ProjectDep, session: SessionDep, services: ServicesDep
) -> WebhookPublic:
    """A webhook; its secret is in this answer only (rotate it to see a new one)."""
    assert project.id is not None
    _reachable(body.url, services)
    limit = services.settings.limits_for(project.limits).max_webhooks
    count = await session.exec(
        select(func.count()).select_from(Webhook).where(Webhook.project_id == project.id)
    )
    if count.one() >= limit:
        raise ApiError(
            409,
            "limit_reached",
            f"this project may have at most {limit} webhooks (the admin's limit)",
        )
    secret = new_secret()
    row = Webhook(
        id=f"wh-{uuid.uuid4().hex[:16]}",
        project_id=project.id,
        name=body.name,
        url=body.url,
        events=list(dict.fromkeys(body.events)),
        format=body.format,
        rules=body.rules.model_dump(),
        sealed_secret=_sealed(secret, services),
        enabled=body.enabled,
    )
    session.add(row)
    await session.commit()
    return public(row, secret)


@router.get("", response_model=list[WebhookPublic])
async def list_webhooks(project: ProjectDep, session: SessionDep) -> list[WebhookPublic]:
    """The project's webhooks, oldest first (never their secrets)."""
    rows = await session.exec(
        select(Webhook).where(Webhook.project_id == project.id).order_by(col(Webhook.created_at))
    )
    return [public(row) for row in rows.all()]


@router.get("/{webhook_id}", response_model=WebhookPublic)
async def describe_webhook(
    webhook_id: str, project: ProjectDep, session: SessionDep
) -> WebhookPublic:
    return public(await owned_webhook(session, project, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookPublic)
async def change_webhook(
    webhook_id: str,
    change: WebhookChange,
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
) -> WebhookPublic:
    """Change some fields; `enabled: true` turns a webhook a 410 disabled on again;
    `rotate_secret: true` answers with the new secret (the old one stops at once)."""
    row = await owned_webhook(session, project, webhook_id)
    fields = change.model_dump(exclude_unset=True, exclude={"rotate_secret"})
    if fields.get("url") is not None:
        _reachable(fields["url"], services)
    for name, value in fields.items():
        if value is None and name != "name":
            continue
        setattr(row, name, list(dict.fromkeys(value)) if name == "events" else value)
    if change.enabled:
        row.disabled_reason = None
    secret = new_secret() if change.rotate_secret else None
    if secret is not None:
        row.sealed_secret = _sealed(secret, services)
    row.updated_at = utcnow()
    session.add(row)
    await session.commit()
    return public(row, secret)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_webhook(webhook_id: str, project: ProjectDep, session: SessionDep) -> Response:
    """The webhook and its delivery log (deliveries under way stop at their next attempt)."""
    row = await owned_webhook(session, project, webhook_id)
    await session.exec(  # type: ignore[call-overload]
        delete(WebhookDelivery).where(col(WebhookDelivery.webhook_id) == row.id)
    )
    await session.delete(row)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{webhook_id}/deliveries", response_model=list[DeliveryPublic])
async def list_deliveries(
    webhook_id: str,
    project: ProjectDep,
    session: SessionDep,
    limit: int = Query(DELIVERIES_KEPT, ge=1, le=DELIVERIES_KEPT),
) -> list[DeliveryPublic]:
    """The webhook's latest delivery attempts, newest first: event, attempt, outcome, HTTP
    status, duration and error."""
    row = await owned_webhook(session, project, webhook_id)
    return [delivery_public(d) for d in await deliveries_of(session, row.id, limit)]


def delivery_public(row: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic(
        deliveryId=row.delivery_id,
        eventId=row.event_id,
        eventType=row.event_type,
        attempt=row.attempt,
        outcome=row.outcome,
        statusCode=row.status_code,
        durationMs=row.duration_ms,
        error=row.error,
        createdAt=row.created_at,
    )


async def _start(
    services: Services, client: TemporalDep, row: Webhook, event: WebhookEvent, delivery_id: str
) -> DeliveryStarted:
    if not row.enabled:
        raise ApiError(409, "webhook_disabled", f"webhook {row.id} is disabled: enable it first")
    notifier = Notifier(WebhookStore(services.engine), client, services.settings)
    started = await notifier.send(row, event, delivery_id)
    return DeliveryStarted(deliveryId=delivery_id, eventId=event.id, started=bool(started))


@router.post("/{webhook_id}/test", response_model=DeliveryStarted)
async def send_test_event(
    webhook_id: str,
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
    client: TemporalDep,
) -> DeliveryStarted:
    """Send a `webhook.test` event now, whatever the webhook's rules."""
    row = await owned_webhook(session, project, webhook_id)
    assert project.id is not None
    event = test_event(project.id, services.settings.public_origin)
    return await _start(services, client, row, event, f"{event.id}-{row.id}")


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=DeliveryStarted)
async def redeliver(
    webhook_id: str,
    delivery_id: str,
    project: ProjectDep,
    session: SessionDep,
    services: ServicesDep,
    client: TemporalDep,
) -> DeliveryStarted:
    """Send a logged delivery's event again, as a new delivery of the same event (the same
    `id`, for receivers that deduplicate)."""
    row = await owned_webhook(session, project, webhook_id)
    found = await session.exec(
        select(WebhookDelivery)
        .where(WebhookDelivery.webhook_id == row.id, WebhookDelivery.delivery_id == delivery_id)
        .limit(1)
    )
    logged = found.first()
    if logged is None:
        raise not_found("delivery", delivery_id)
    event = WebhookEvent.from_document(logged.document)
    again = f"{logged.event_id}-{row.id}-re{uuid.uuid4().hex[:8]}"
    return await _start(services, client, row, event, again)
