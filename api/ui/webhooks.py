"""The dashboard's webhooks: make one (its secret shown on the page that answers, once), turn
it off or on, delete it, send a test event, and read its delivery log with a redeliver button
per delivery. Every action goes through the API's routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from api.deps import ServicesDep, SessionDep, temporal_client
from api.errors import ApiError
from api.routes import webhooks
from api.ui.pages import CsrfField, UiSessionDep, back, checked, page, project_for
from api.ui.sessions import UiSession
from api.webhook_schemas import WebhookChange, WebhookCreate
from core.definition import describe_validation_error
from notify.rules import EVENT_TYPES, WebhookRules
from store.webhooks import deliveries_of

router = APIRouter(prefix="/ui/projects/{project_id}/webhooks", include_in_schema=False)
LOG_SHOWN = 20


class WebhookForm(BaseModel):
    """The page's form for a new webhook."""

    url: str = Field(max_length=2000)
    name: str = Field(default="", max_length=200)
    events: list[str] = Field(default_factory=list, max_length=len(EVENT_TYPES))
    format: str = Field(default="json", max_length=20)
    only_failures: bool = False
    environment: str = Field(default="", max_length=64)
    csrf: str | None = None

    def body(self) -> WebhookCreate:
        rules = WebhookRules(only_failures=self.only_failures, environment=self.environment or None)
        fields: dict[str, Any] = {
            "url": self.url.strip(),
            "name": self.name or None,
            "format": self.format,
            "rules": rules,
        }
        if self.events:
            fields["events"] = self.events
        return WebhookCreate.model_validate(fields)


async def _page(
    request: Request,
    ui: UiSession,
    session: AsyncSession,
    project_id: int,
    note: str | None = None,
    secret: str | None = None,
) -> HTMLResponse:
    project = await project_for(ui, session, project_id)
    hooks = await webhooks.list_webhooks(project, session)
    logs = {
        hook.id: [
            webhooks.delivery_public(d) for d in await deliveries_of(session, hook.id, LOG_SHOWN)
        ]
        for hook in hooks
    }
    return page(
        request,
        "webhooks.html",
        ui,
        project=project,
        webhooks=hooks,
        logs=logs,
        event_types=EVENT_TYPES,
        note=note or request.query_params.get("note"),
        secret=secret,
    )


@router.get("", response_class=HTMLResponse)
async def webhooks_page(
    request: Request, project_id: int, ui: UiSessionDep, session: SessionDep
) -> Response:
    return await _page(request, ui, session, project_id)


@router.post("/new", response_class=HTMLResponse)
async def create_webhook(
    request: Request,
    project_id: int,
    form: Annotated[WebhookForm, Form()],
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """Make a webhook; the answer is the page itself, with the secret (never in a URL)."""
    checked(ui, form.csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/webhooks"
    try:
        made = await webhooks.create_webhook(form.body(), project, session, services)
    except ValidationError as invalid:
        return back(to, describe_validation_error(invalid))
    except ApiError as error:
        return back(to, error.detail)
    note = f"Webhook {made.name or made.id} created. Its secret, shown this once:"
    return await _page(request, ui, session, project_id, note, made.secret)


@router.post("/{webhook_id}/{action}")
async def webhook_action(
    project_id: int,
    webhook_id: str,
    action: str,
    ui: UiSessionDep,
    session: SessionDep,
    services: ServicesDep,
    csrf: CsrfField = None,
    delivery: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """enable, disable, delete, test, or redeliver (the form's `delivery`)."""
    checked(ui, csrf)
    project = await project_for(ui, session, project_id)
    to = f"/ui/projects/{project_id}/webhooks"
    try:
        if action in ("enable", "disable"):
            change = WebhookChange(enabled=action == "enable")
            await webhooks.change_webhook(webhook_id, change, project, session, services)
            return back(to, f"Webhook {webhook_id} {action}d")
        if action == "delete":
            await webhooks.delete_webhook(webhook_id, project, session)
            return back(to, f"Webhook {webhook_id} deleted")
        client = await temporal_client(services)
        if action == "test":
            sent = await webhooks.send_test_event(webhook_id, project, session, services, client)
        elif action == "redeliver":
            sent = await webhooks.redeliver(
                webhook_id, delivery, project, session, services, client
            )
        else:
            raise ApiError(404, "not_found", f"no webhook action {action}")
    except ApiError as error:
        return back(to, error.detail)
    told = "sent" if sent.started else "not sent (rate limited)"
    return back(to, f"Event {sent.eventId} {told}: delivery {sent.deliveryId}")
