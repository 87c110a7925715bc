"""What the webhooks API takes and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from notify.rules import EVENT_TYPES, WebhookRules

EventType = Literal["run.finished", "suite_run.finished", "schedule.failed", "schedule.recovered"]
assert set(EventType.__args__) == set(EVENT_TYPES)  # type: ignore[attr-defined]
Format = Literal["json", "slack"]


def _checked_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an absolute http(s) URL")
    if parts.username or parts.password:
        raise ValueError("no credentials in the URL (the signature proves the sender)")
    if parts.fragment:
        raise ValueError("no #fragment in the URL")
    return value


class WebhookCreate(BaseModel):
    """A webhook: where to send which of the project's events, in which format."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2000, description="http(s) URL the events are POSTed to")
    events: list[EventType] = Field(default=["run.finished"], min_length=1)
    name: str | None = Field(default=None, max_length=200)
    format: Format = Field(
        default="json", description="`json` (the event) or `slack` (a chat message)"
    )
    enabled: bool = True
    rules: WebhookRules = Field(default_factory=WebhookRules)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _checked_url(value)


class WebhookChange(BaseModel):
    """A change of some of a webhook's fields; `rotate_secret` makes a new secret (shown once)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    events: list[EventType] | None = Field(default=None, min_length=1)
    name: str | None = Field(default=None, max_length=200)
    format: Format | None = None
    enabled: bool | None = None
    rules: WebhookRules | None = None
    rotate_secret: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _checked_url(value)


class WebhookPublic(BaseModel):
    id: str
    name: str | None
    url: str
    events: list[str]
    format: str
    rules: WebhookRules
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    secret: str | None = Field(
        default=None, description="only when the webhook is made or its secret rotated"
    )


class DeliveryPublic(BaseModel):
    """One delivery attempt (attempt 0: the delivery was queued, or dropped as rate limited)."""

    deliveryId: str  # noqa: N815
    eventId: str  # noqa: N815
    eventType: str  # noqa: N815
    attempt: int
    outcome: str
    statusCode: int | None  # noqa: N815
    durationMs: int | None  # noqa: N815
    error: str | None
    createdAt: datetime  # noqa: N815


class DeliveryStarted(BaseModel):
    deliveryId: str  # noqa: N815
    eventId: str  # noqa: N815
    started: bool = Field(description="false if it was dropped as rate limited")
