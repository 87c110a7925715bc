"""The events a run publishes while it queues and executes, and the streams they go to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal[
    "queued",
    "position",
    "started",
    "step_started",
    "step_passed",
    "step_failed",
    "retrying",
    "completed",
    "failed",
    "cancelled",
    "timed_out",
    "queue",
]
FINAL_EVENTS = frozenset({"completed", "failed", "cancelled", "timed_out"})

ENTRY_FIELD = "event"
"""The one field of a stream entry."""
JOB_STREAM_MAXLEN = 1_000
"""Events kept per run (a run has at most a few hundred: steps times attempts)."""
PROJECT_STREAM_MAXLEN = 10_000
"""Events kept per project, for watchers of a whole project."""
STREAM_TTL_S = 24 * 3600
"""A stream nobody writes to any more disappears after a day..."""
FINISHED_TTL_S = 3600
"""...and a run's own stream an hour after the run ended."""


def job_stream(job_id: str) -> str:
    return f"live:job:{job_id}"


def project_stream(project_id: str) -> str:
    return f"live:project:{project_id}"


class RunEvent(BaseModel):
    """One thing that happened to a run; `data` depends on the type."""

    model_config = ConfigDict(populate_by_name=True)

    type: EventType
    job_id: str = Field(alias="jobId")
    project_id: str = Field(alias="projectId")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.type in FINAL_EVENTS

    def to_entry(self) -> str:
        """The stream entry's one field (ENTRY_FIELD): JSON, so that readers get the event
        whole."""
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_fields(cls, fields: dict[Any, Any]) -> RunEvent:
        raw = fields.get(ENTRY_FIELD.encode()) or fields.get(ENTRY_FIELD) or b"{}"
        return cls.model_validate_json(raw)


def queue_event(project_id: int, paused: bool) -> RunEvent:
    """The project's queue was paused or resumed (by the project or the admin): no run's, so
    its job ID is empty; dashboards render their counts again."""
    return RunEvent(type="queue", jobId="", projectId=str(project_id), data={"paused": paused})


def queued_event(
    job_id: str,
    project_id: int,
    position: int,
    test_id: int | None,
    priority: str,
    test_name: str | None = None,
) -> RunEvent:
    """A run entered its project's queue at `position`."""
    return RunEvent(
        type="queued",
        jobId=job_id,
        projectId=str(project_id),
        data={"position": position, "testId": test_id, "testName": test_name, "priority": priority},
    )
