"""Request and response models of /api/schedules."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from store.ids import MAX_ROW_ID

Overlap = Literal["skip", "buffer_one", "buffer_all", "cancel_other", "allow_all"]
RowId = Field(default=None, ge=1, le=MAX_ROW_ID)


class ScheduleCreate(BaseModel):
    """A schedule of one test or one suite, by cron expression or fixed interval."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    test_id: int | None = RowId
    suite_id: int | None = RowId
    cron: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="a cron expression such as `0 2 * * *` (02:00 every day)",
    )
    interval_s: int | None = Field(
        default=None, ge=1, le=366 * 86400, description="or: fire every this many seconds"
    )
    time_zone: str = Field(
        default="UTC", max_length=64, description="IANA name the cron expression is read in"
    )
    overlap: Overlap = Field(
        default="skip",
        description="what a fire does while the previous fire's runs have not all ended",
    )
    paused: bool = False
    environment: str | None = Field(
        default=None, description="the environment whose variables its runs use"
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _one_target_one_timing(self) -> ScheduleCreate:
        if (self.test_id is None) == (self.suite_id is None):
            raise ValueError("give exactly one of test_id and suite_id")
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("give exactly one of cron and interval_s")
        return self


class ScheduledRun(BaseModel):
    jobId: str  # noqa: N815
    testId: int | None  # noqa: N815
    state: str
    createdAt: datetime  # noqa: N815


class SchedulePublic(BaseModel):
    id: str = Field(description="also the Temporal schedule ID (`temporal schedule describe`)")
    name: str
    test_id: int | None
    suite_id: int | None
    cron: str | None
    interval_s: int | None
    time_zone: str
    overlap: str
    environment: str | None = None
    paused: bool
    note: str | None
    next_run_times: list[datetime]
    recent_runs: list[ScheduledRun] = Field(description="the schedule's newest runs, newest first")
    created_at: datetime


class ScheduleNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)
