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
