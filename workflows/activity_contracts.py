"""Every activity a workflow calls, as a typed reference: its name, what it takes and what it
returns. Workflows call these (`workflow.execute_activity(open_session, ...)`) and never import
the code that does the work (browser, database); `activities/` implements each one as a method
of the same name, and `tests/fast/activities/test_activity_contracts.py` checks that the signatures
match."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import activity

from workflows.messages import (
    ActionOutcome,
    AuthStepsInput,
    FireRequest,
    RunFinished,
    SessionInfo,
    SessionOutcome,
    SessionRequest,
    SessionRunInput,
    StepInput,
    TeardownInput,
    TeardownOutcome,
    WebhookDeliveryInput,
)

BrowserAttempt = Callable[[Any], Awaitable[ActionOutcome]]
"""`run_step` or `run_auth`: one attempt of something done in the run's browser context."""


class NotCalledHere(NotImplementedError):
    """A contract is only a reference; its worker runs the implementation."""


@activity.defn
async def open_session(request: SessionRequest) -> SessionInfo:
    """Setup: a fresh browser context, on a worker with a free session slot."""
    raise NotCalledHere


@activity.defn
async def run_step(input: StepInput) -> ActionOutcome:
    """One attempt of one step, beside the run's browser context."""
    raise NotCalledHere


@activity.defn
async def run_auth(input: AuthStepsInput) -> ActionOutcome:
    """One attempt of the login."""
    raise NotCalledHere


@activity.defn
async def close_session(input: TeardownInput) -> TeardownOutcome:
    """Teardown: close the context, keeping its trace if asked."""
    raise NotCalledHere


@activity.defn
async def run_session(input: SessionRunInput) -> SessionOutcome:
    """Run the login and steps in a SessionRun workflow on the session's worker and return how
    they went, heartbeating meanwhile: its heartbeats tell the run the worker is alive."""
    raise NotCalledHere


@activity.defn
async def record_finished(event: RunFinished) -> bool:
    """Store the run's final result (idempotent)."""
    raise NotCalledHere


@activity.defn
async def forget_worker(worker_id: str) -> None:
    """A worker found dead leaves the capacity."""
    raise NotCalledHere


@activity.defn
async def queue_again(job_id: str) -> bool:
    """A successor whose slot was not handed over goes back in line; whether it was waiting."""
    raise NotCalledHere


@activity.defn
async def queue_scheduled_runs(request: FireRequest) -> list[str]:
    """Queue a schedule fire's runs; their job IDs."""
    raise NotCalledHere


@activity.defn
async def unfinished_runs(job_ids: list[str]) -> int:
    """How many of these runs have not ended."""
    raise NotCalledHere


@activity.defn
async def cancel_runs(job_ids: list[str]) -> None:
    """Cancel these runs."""
    raise NotCalledHere


@activity.defn
async def deliver_webhook(delivery: WebhookDeliveryInput) -> str:
    """One attempt to deliver an event to a webhook: `delivered`, `disabled` (410) or
    `skipped` (the webhook is off or gone); an error to try again later."""
    raise NotCalledHere


CONTRACTS = (
    open_session,
    run_step,
    run_auth,
    close_session,
    run_session,
    record_finished,
    forget_worker,
    queue_again,
    queue_scheduled_runs,
    unfinished_runs,
    cancel_runs,
    deliver_webhook,
)
