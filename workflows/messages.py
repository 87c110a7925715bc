"""Inputs and results that cross the workflow boundary: IDs and plain data only."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.definition import Step, TestDefinition, TraceMode, Viewport
from core.run_result import RunProgress, StepRecord

SESSION_LOST_TIMEOUT_S = 5.0
"""A session whose worker was not heard of this long is lost: its run starts it elsewhere."""
NO_PROJECT = 0
"""The project of a run started on Temporal directly, outside the service (no project has it)."""


class AuthInput(BaseModel):
    """An auth flow as a run receives it: credentials only as a sealed token."""

    name: str
    login_url: str
    steps: list[Step]
    sealed_credentials: str


class RunInput(BaseModel):
    """What starts a run. `test` is raw so that an invalid definition fails the run cleanly."""

    test: dict[str, Any]
    test_id: str | None = None
    project_id: int = NO_PROJECT
    auth: AuthInput | None = None
    environment: str | None = None
    """The environment whose variables the run uses (None: the project's own)."""
    variables: dict[str, str] = Field(default_factory=dict)
    """The variables the run uses, filled into `test` already; shown on the run's page."""
    secret_names: list[str] = Field(default_factory=list)
    sealed_secrets: list[str] = Field(default_factory=list)
    """The project's and the environment's secrets, each set sealed as stored: only the worker
    opens them, to fill in `secret_names` in front of the page (the environment's win)."""
    variables_error: str | None = None
    """Why the run's variables could not be filled in: the run fails at once with it."""
    admission: bool = Field(
        default=False, description="wait for the dispatcher's grant before starting"
    )
    max_session_attempts: int = Field(default=3, ge=1, le=10)
    session_lost_timeout_s: float = Field(
        default=SESSION_LOST_TIMEOUT_S,
        gt=0,
        le=600,
        description="heartbeats missed this long: the worker is gone",
    )


class SlotHandover(BaseModel):
    """A successor's grant: the slot of run `after_run`, on `worker_id`, once its context
    closes (dispatch.successors)."""

    after_run: str
    worker_id: str


class SessionRequest(BaseModel):
    """Ask a worker with a free slot for a fresh browser context (or, with `after_run`, the
    worker holding that run's context for its slot once it closes)."""

    job_id: str
    project_id: int
    session_attempt: int
    trace: TraceMode
    lifetime_s: float
    after_run: str | None = None


class SessionInfo(BaseModel):
    """A browser context and the task queue of the only worker that holds it."""

    session_id: str
    task_queue: str
    worker_id: str


class StepInput(BaseModel):
    """One attempt of one step in an open session."""

    session_id: str
    job_id: str
    project_id: int
    index: int
    step: Step
    start_url: str
    open_start_url: bool = False
    attempt: int
    timeout_ms: int
    total_steps: int = 0
    retry_in_s: float | None = Field(
        default=None, description="the wait before the next attempt if this one fails"
    )
    sealed_secrets: list[str] = Field(default_factory=list)
    viewport: Viewport | None = None
    """The test's page size, carried by the first step's attempts."""


class AuthStepsInput(BaseModel):
    """One attempt of an auth flow's login in an open session."""

    session_id: str
    job_id: str
    project_id: int
    auth: AuthInput
    attempt: int
    timeout_ms: int
    retry_in_s: float | None = None


class ActionOutcome(BaseModel):
    """What a passed step or login reports back."""

    duration_ms: int
    selector_used: str | None = None
    artifacts: list[str] = Field(default_factory=list)


class TeardownInput(BaseModel):
    """Close a session, keeping its trace when the run failed."""

    session_id: str
    job_id: str
    session_attempt: int
    keep_trace: bool
    frees_slot: bool = True
    """False when a released successor gives up a context it has not started in: the run
    keeps its admission for the free slot it goes to."""


class StepInProgress(BaseModel):
    """The step (index -1 is the login) and attempt a session was on."""

    index: int
    attempt: int


class TeardownOutcome(BaseModel):
    """Artifacts that teardown wrote (the trace), the step it interrupted, if any, and when
    the context closed: the run's end, from which its slot was free."""

    artifacts: list[str] = Field(default_factory=list)
    interrupted: StepInProgress | None = None
    ended_at: datetime | None = None


class SessionRunInput(BaseModel):
    """The part of a run that happens inside one open browser context, on its worker."""

    job_id: str
    project_id: int
    test: TestDefinition
    auth: AuthInput | None = None
    session: SessionInfo
    session_attempt: int
    sealed_secrets: list[str] = Field(default_factory=list)
    opening: SessionRequest | None = None
    """For a successor: the context is opened here first, in `opening.after_run`'s slot as
    soon as that run's context closes (its ID is `session.session_id`)."""


class SessionOutcome(BaseModel):
    """How a session's steps went: `lost` means the context vanished under them."""

    ending: Literal["completed", "failed", "lost"]
    steps: list[StepRecord]
    auth: StepRecord | None = None
    flaky: bool = False
    error: str | None = None
    error_type: str | None = None
    artifacts: list[str] = Field(default_factory=list)
    ended_at: datetime | None = None


class SessionWatch(BaseModel):
    """Watch an open session from its worker: liveness for the run, and its current step."""

    session_id: str
    job_id: str
    session_attempt: int


class SessionPulse(StepInProgress):
    """The step a session is on, sent to its run at most once a second while a session runs
    long, so the progress query stays current; with the records of the steps done so far
    (their attempts, selectors, durations), which a cancel keeps."""

    session_attempt: int
    records: list[StepRecord] = Field(default_factory=list)


class RunFinished(BaseModel):
    """The run ended; `result` is its final RunProgress. `slot_freed`: its context's close
    freed its slot already (and rang the dispatcher's bell)."""

    job_id: str
    result: RunProgress
    project_id: int = NO_PROJECT
    slot_freed: bool = False
    test_name: str | None = None


class WebhookDeliveryInput(BaseModel):
    """One event for one webhook: the document to send and how long to keep trying. The same
    `delivery_id` on every attempt (X-Delivery-Id); the document's `id` is the event's."""

    webhook_id: str
    delivery_id: str
    document: dict[str, Any]
    retry_initial_s: float = 10.0
    retry_for_s: float = 86_400.0
    timeout_s: float = 10.0


class ScheduleFire(BaseModel):
    """What a schedule starts on each fire: queue the runs of its test or suite."""

    schedule_id: str
    project_id: int


class FireRequest(BaseModel):
    """Queue one fire's runs; `fire_id` (the fire's workflow ID) makes a retry queue them once."""

    schedule_id: str
    fire_id: str
