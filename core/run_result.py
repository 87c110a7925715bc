"""A run's result as the workflow reports it (the `progress` query, the final result), the
database stores it and the API answers it: one model from end to end."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.run_state import RunState

StepStatus = Literal["pending", "running", "passed", "failed", "cancelled", "skipped"]
"""`cancelled`: the step in progress when the run was cancelled; `skipped`: never reached."""


class AttemptFailure(BaseModel):
    """One failed attempt of a step: what went wrong and how long the run then waited."""

    attempt: int
    error: str
    error_type: str
    retry_in_s: float | None = None
    artifacts: list[str] = Field(default_factory=list)


class StepRecord(BaseModel):
    """Where one step stands and how its attempts went."""

    index: int
    action: str
    description: str | None = None
    status: StepStatus = "pending"
    attempts: int = 0
    selector_used: str | None = None
    duration_ms: int | None = None
    error: str | None = None
    error_type: str | None = None
    failures: list[AttemptFailure] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)


class SessionAttempt(BaseModel):
    """One try of the whole run in one browser context, and why it ended if it was lost."""

    attempt: int
    worker_id: str | None = None
    lost_reason: str | None = None
    opened_at: datetime | None = None
    lost_at: datetime | None = None


SETUP_DONE = 10
STEPS_START = 30
STEPS_END = 90
"""Progress percentages: setup 10, auth 30, steps 30 to 90, teardown 90, done 100."""


def progress_after_steps(done: int, total: int) -> int:
    """Percent reached once `done` of `total` steps have passed."""
    if total <= 0:
        return STEPS_END
    return STEPS_START + (STEPS_END - STEPS_START) * done // total


class RunProgress(BaseModel):
    """The run as the `progress` query and the workflow result report it."""

    state: RunState = RunState.WAITING
    progress: int = 0
    phase: str = "queued"
    current_step: int | None = None
    flaky: bool = False
    error: str | None = None
    error_type: str | None = None
    auth: StepRecord | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    session_attempts: list[SessionAttempt] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def enter(self, state: RunState, phase: str, percent: int) -> None:
        """The run is in `phase` of `state`; its percentage never goes back."""
        self.state, self.phase = state, phase
        self.progress = max(self.progress, percent)

    def restart_steps(self) -> None:
        """A new session attempt starts every step (and the login) afresh."""
        self.progress = 0
        for record in self.steps:
            record.status, record.attempts, record.duration_ms = "pending", 0, None
            record.error = record.error_type = None
            record.failures, record.artifacts = [], []
        if self.auth is not None:
            self.auth = StepRecord(index=-1, action="auth", description=self.auth.description)

    def show_step_done(self, record: StepRecord) -> None:
        """What the worker knows of a step so far: its attempts and failures, and for one that
        passed its selector, duration and artifacts."""
        if not 0 <= record.index < len(self.steps):
            return
        shown = self.steps[record.index]
        shown.attempts, shown.failures = record.attempts, record.failures
        if record.status == "passed":
            shown.status, shown.duration_ms = "passed", record.duration_ms
            shown.selector_used, shown.artifacts = record.selector_used, record.artifacts

    def show_step_in_progress(self, index: int, attempt: int) -> None:
        """Step `index` (-1: the login) is on attempt `attempt`; the ones before it passed."""
        if index < 0 and self.auth is not None:
            self.auth.status, self.auth.attempts = "running", attempt
            return
        if not 0 <= index < len(self.steps):
            return
        if self.auth is not None:
            self.auth.status = "passed"
        for record in self.steps[:index]:
            record.status = "passed"
        current = self.steps[index]
        current.status, current.attempts = "running", attempt
        self.phase, self.current_step = "steps", index
        self.progress = progress_after_steps(index, len(self.steps))

    def end(
        self, state: RunState, at: datetime, error: str | None = None, error_type: str | None = None
    ) -> None:
        """The run ended at `at` in `state`: the step it was on is `cancelled` (by a cancel) or
        `skipped`, as are those it never reached."""
        self.state, self.phase = state, "done"
        self.error, self.error_type = error, error_type
        self.current_step = None
        self.finished_at = at
        if state == RunState.COMPLETED:
            self.progress = 100
        interrupted: StepStatus = "cancelled" if state == RunState.CANCELLED else "skipped"
        for record in self.steps:
            if record.status == "running":
                record.status = interrupted
            elif record.status == "pending":
                record.status = "skipped"

    @property
    def failed_step(self) -> StepRecord | None:
        """The step (or the login, index -1) that failed the run, if one did."""
        records = ([self.auth] if self.auth is not None else []) + self.steps
        return next((record for record in records if record.status == "failed"), None)

    def where_failed(self) -> str:
        """`step 2 (click)`, `the login`, or `the run` when no step failed (a timeout)."""
        failed = self.failed_step
        if failed is None:
            return "the run"
        return "the login" if failed.index < 0 else f"step {failed.index + 1} ({failed.action})"


REASON_LIMIT = 200


def first_line(error: str | None) -> str | None:
    """An error's first line, cut to fit beside a run in a list."""
    if not error:
        return None
    line = error.strip().splitlines()[0]
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"
