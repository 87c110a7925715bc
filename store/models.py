"""Tables: projects, tests, suites, auth flows, runs, live workers and the queue's control row."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.run_result import RunProgress
from core.run_state import RunState


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A stored moment, timezone-aware (SQLite gives back naive UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timestamp(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), **kwargs))


NEVER_REUSED_IDS = {"sqlite_autoincrement": True}
"""SQLite hands out a deleted row's ID again unless the table is AUTOINCREMENT."""


class Project(SQLModel, table=True):
    """A tenant: its token sees only its own tests, suites, auth flows and runs."""

    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=200)
    max_parallel: int = Field(default=2)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    paused: bool = Field(default=False)
    keep_completed: int = Field(default=100)
    keep_failed: int = Field(default=200)
    limits: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """The admin's overrides of the default limits (core.limits.ProjectLimits fields)."""
    last_admitted_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True))
    )
    created_at: datetime = _timestamp(nullable=False)


class TestCase(SQLModel, table=True):
    """A stored test definition."""

    __test__ = False
    __tablename__ = "test"
    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=200)
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _timestamp(nullable=False)
    updated_at: datetime = _timestamp(nullable=False)


class Suite(SQLModel, table=True):
    """A named list of tests that run together."""

    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=200)
    test_ids: list[int] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _timestamp(nullable=False)


class AuthFlow(SQLModel, table=True):
    """A login flow; its credentials are stored only sealed."""

    __tablename__ = "auth_flow"
    __table_args__ = NEVER_REUSED_IDS

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=200)
    login_url: str = Field(max_length=2000)
    steps: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    sealed_credentials: str
    created_at: datetime = _timestamp(nullable=False)


class VariableSet(SQLModel, table=True):
    """A project's own variables (`environment` empty) or one named environment's, which
    override them. Secrets are stored only sealed; their names are kept apart to be shown."""

    __tablename__ = "variable_set"
    __table_args__ = (UniqueConstraint("project_id", "environment"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", index=True)
    environment: str = Field(default="", max_length=64)
    variables: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    secret_names: list[str] = Field(sa_column=Column(JSON, nullable=False))
    sealed_secrets: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime = _timestamp(nullable=False)


class Webhook(SQLModel, table=True):
    """A project's webhook: where its events go, which ones (its rules), in which format, and
    its secret (stored sealed; shown once, when made or rotated)."""

    __tablename__ = "webhook"

    id: str = Field(primary_key=True, max_length=40)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str | None = Field(default=None, max_length=200)
    url: str = Field(max_length=2000)
    events: list[str] = Field(sa_column=Column(JSON, nullable=False))
    format: str = Field(default="json", max_length=20)
    rules: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sealed_secret: str = Field(sa_column=Column(Text, nullable=False))
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = _timestamp(nullable=False)
    updated_at: datetime = _timestamp(nullable=False)


class WebhookDelivery(SQLModel, table=True):
    """One attempt to deliver one event to one webhook (the last 100 per webhook are kept).
    `document` is the event as sent, for a redelivery."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_webhook", "webhook_id", "id"),
        Index("ix_webhook_delivery_project_time", "project_id", "created_at"),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: str = Field(max_length=40)
    project_id: int
    delivery_id: str = Field(max_length=120)
    event_id: str = Field(max_length=120)
    event_type: str = Field(max_length=40)
    attempt: int
    outcome: str = Field(max_length=20)
    status_code: int | None = Field(default=None)
    duration_ms: int | None = Field(default=None)
    error: str | None = Field(default=None, max_length=500)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _timestamp(nullable=False)


class Schedule(SQLModel, table=True):
    """A project's schedule of a test or a suite. Its timing lives in Temporal (the schedule of
    the same ID); this row says whose it is and what it runs."""

    id: str = Field(primary_key=True, max_length=100)
    project_id: int = Field(foreign_key="project.id", index=True)
    name: str = Field(max_length=200)
    test_id: int | None = Field(default=None)
    suite_id: int | None = Field(default=None)
    cron: str | None = Field(default=None, max_length=200)
    interval_s: int | None = Field(default=None)
    time_zone: str = Field(default="UTC", max_length=64)
    overlap: str = Field(default="skip", max_length=20)
    environment: str | None = Field(default=None, max_length=64)
    created_at: datetime = _timestamp(nullable=False)


class Run(SQLModel, table=True):
    """One run of a test; job_id is the Temporal workflow ID."""

    __table_args__ = (
        UniqueConstraint("job_id"),
        Index("ix_run_queue_order", "project_id", "state", "admitted_at", "priority_key", "id"),
        Index("ix_run_state_admitted", "state", "admitted_at"),
        Index("ix_run_successor_line", "project_id", "state", "successor_of", "priority_key", "id"),
        NEVER_REUSED_IDS,
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(index=True, max_length=100)
    project_id: int = Field(foreign_key="project.id", index=True)
    test_id: int | None = Field(default=None, index=True)
    suite_id: int | None = Field(default=None, index=True)
    test_name: str | None = Field(default=None, max_length=200)
    """The test's name when the run was queued (a later rename does not rewrite it)."""
    suite_name: str | None = Field(default=None, max_length=200)
    suite_run_id: str | None = Field(default=None, max_length=100, index=True)
    """The suite run it belongs to: the runs one request of a suite (or one fire) made, and
    the retries of those."""
    priority: str = Field(default="regular", max_length=20)
    priority_key: int = Field(default=3)
    state: str = Field(default=RunState.WAITING, index=True, max_length=20)
    progress: int = Field(default=0)
    flaky: bool = Field(default=False)
    error: str | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    retry_of: str | None = Field(default=None, max_length=100)
    schedule_id: str | None = Field(default=None, max_length=100, index=True)
    run_input: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    workflow_started_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), index=True)
    )
    admitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    admission_sent: bool = Field(default=False)
    admitted_by: str | None = Field(default=None, max_length=200)
    """The dispatcher that granted it (the lease's holder then)."""
    slot_freed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    """When its context closed: the slot is free before the result is recorded."""
    worker_id: str | None = Field(default=None, max_length=200)
    """The worker holding its browser context (its latest session's)."""
    session_attempt: int | None = Field(default=None)
    """Its latest session attempt to start: a worker's write for an earlier one (a worker cut
    off and back) is refused (store.run_transitions)."""
    successor_of: int | None = Field(default=None, index=True)
    """The run whose session slot it was admitted to take over, on that run's worker, as soon
    as that run's context closes (dispatch.successors)."""
    created_at: datetime = _timestamp(nullable=False, index=True)
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))

    @property
    def duration_s(self) -> float | None:
        """From the browser's start to the result, once the run has both."""
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, (as_utc(self.finished_at) - as_utc(self.started_at)).total_seconds())

    @property
    def environment(self) -> str | None:
        """The environment the run was queued in (None: the project's own variables)."""
        return (self.run_input or {}).get("environment")

    @property
    def outcome(self) -> RunProgress | None:
        """The stored result, typed (None until the run has one)."""
        return RunProgress.model_validate(self.result) if self.result else None


class WorkerSlots(SQLModel, table=True):
    """A live worker process and how many browser sessions it runs at once."""

    __tablename__ = "worker_slots"

    worker_id: str = Field(primary_key=True, max_length=200)
    max_sessions: int
    sessions_in_use: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    heartbeat_at: datetime = _timestamp(nullable=False)


class QueueControl(SQLModel, table=True):
    """The whole queue's state (one row): the admin's pause and the dispatcher's lease."""

    __tablename__ = "queue_control"

    id: int = Field(default=1, primary_key=True)
    paused: bool = Field(default=False)
    leader: str | None = Field(default=None, max_length=200)
    leader_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class IdempotentRequest(SQLModel, table=True):
    """A request sent with an Idempotency-Key: its body's hash, and its answer once there is
    one (a row without an answer is a request still being served)."""

    __tablename__ = "idempotent_request"
    __table_args__ = (UniqueConstraint("project_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(index=True)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int | None = None
    response_body: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _timestamp(nullable=False, index=True)


class DashboardSession(SQLModel, table=True):
    """A signed-in dashboard session: its cookie holds only a random ID, whose hash is kept
    here, so that sign-out, a token's rotation or the admin ends it at once."""

    __tablename__ = "dashboard_session"

    id_hash: str = Field(primary_key=True, max_length=64)
    project_id: int | None = Field(default=None, index=True)
    """None for the admin's sessions."""
    token_tag: str = Field(max_length=64)
    """A tag of the token it signed in with: a rotated token no longer matches."""
    created_at: datetime = _timestamp(nullable=False)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_seen_at: datetime = _timestamp(nullable=False)
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    user_agent: str = Field(default="", max_length=200)
