"""Limits per project: what one tenant may hold of the shared service.

The service's defaults come from settings; the admin may override them for a project (stored
on the project); a project's own token can change none of them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ProjectLimits(BaseModel):
    """Every limit, as it applies to one project."""

    model_config = ConfigDict(extra="forbid")

    max_waiting: int = Field(default=1000, ge=0, le=1_000_000)
    """Runs waiting in the project's queue; a request that would exceed it queues nothing."""
    max_parallel: int = Field(default=10, ge=1, le=1000)
    """The ceiling of the project's own max_parallel."""
    max_steps: int = Field(default=200, ge=1, le=500)
    max_timeout_s: int = Field(default=3600, ge=1, le=86_400)
    max_schedules: int = Field(default=20, ge=0, le=10_000)
    min_schedule_interval_s: int = Field(default=60, ge=1, le=86_400)
    max_keep: int = Field(default=1000, ge=0, le=1_000_000)
    """The ceiling of the project's keep_completed and keep_failed (retention)."""
    max_upload_bytes: int = Field(default=100_000_000, ge=0)
    """All of the project's uploaded files together."""
    max_webhooks: int = Field(default=10, ge=0, le=1000)
    max_deliveries_per_minute: int = Field(default=60, ge=0, le=100_000)
    """Webhook deliveries the project's events may start in a minute (the rest are logged as
    rate limited, not sent)."""


class LimitOverrides(BaseModel):
    """An admin's change of some limits of one project (null: back to the default)."""

    model_config = ConfigDict(extra="forbid")

    max_waiting: int | None = Field(default=None, ge=0, le=1_000_000)
    max_parallel: int | None = Field(default=None, ge=1, le=1000)
    max_steps: int | None = Field(default=None, ge=1, le=500)
    max_timeout_s: int | None = Field(default=None, ge=1, le=86_400)
    max_schedules: int | None = Field(default=None, ge=0, le=10_000)
    min_schedule_interval_s: int | None = Field(default=None, ge=1, le=86_400)
    max_keep: int | None = Field(default=None, ge=0, le=1_000_000)
    max_upload_bytes: int | None = Field(default=None, ge=0)
    max_webhooks: int | None = Field(default=None, ge=0, le=1000)
    max_deliveries_per_minute: int | None = Field(default=None, ge=0, le=100_000)


def limits_of(defaults: ProjectLimits, overrides: dict[str, Any] | None) -> ProjectLimits:
    """The limits that apply to a project: the defaults with its overrides on top."""
    given = {key: value for key, value in (overrides or {}).items() if value is not None}
    return defaults.model_copy(update=given)


def merged_overrides(
    current: dict[str, Any] | None, change: LimitOverrides
) -> dict[str, Any] | None:
    """A project's stored overrides after an admin's change (a null removes an override)."""
    merged = {**(current or {}), **change.model_dump(exclude_unset=True)}
    kept = {key: value for key, value in merged.items() if value is not None}
    return kept or None
