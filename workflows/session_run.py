"""The steps of one run inside one open browser context, on the worker that holds it.

The run workflow opens a context on whichever worker has room, then starts this workflow on
that worker's own task queue. Here the login and every step attempt is a *local* activity in
the same worker: each is still its own activity with its own attempts, markers in the history
and backoff timers between attempts, but a passing step costs no server round trip. The run
workflow keeps the run's state, its timeout and cancellation; the activity that starts this
workflow on the worker (activities.browser.run_session) heartbeats for the worker's liveness.
This workflow only runs the steps and closes the context when they end.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.definition import START_PAGE_TIMEOUT_MS, TestDefinition
    from core.run_result import StepRecord
    from workflows import activity_contracts as contracts
    from workflows.activity_contracts import BrowserAttempt
    from workflows.messages import (
        AuthInput,
        AuthStepsInput,
        SessionOutcome,
        SessionRunInput,
        StepInput,
        TeardownInput,
    )
    from workflows.step_retries import SessionLost, StepFailed, retry_wait, with_retries

ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
"""Step attempts are counted by the workflow, so each attempt is visible in the history."""
SAFETY_MARGIN = timedelta(seconds=10)
"""An attempt bounds itself by its step's timeouts; its activity's timeout is only a net."""
CLOSE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2, maximum_attempts=3
)


def session_run_timeout(timeout_s: int) -> timedelta:
    """How long a session workflow may exist: its run's time limit, with room for a late end."""
    return timedelta(seconds=timeout_s + 600)


def step_attempt(
    session_id: str,
    job_id: str,
    project_id: int,
    test: TestDefinition,
    index: int,
    attempt: int,
    sealed_secrets: list[str] | None = None,
) -> tuple[StepInput, int]:
    """Attempt `attempt` of step `index`, and the milliseconds it may take at most."""
    step = test.steps[index]
    timeout_ms = step.timeout_ms or test.step_timeout_ms
    first_page_ms = START_PAGE_TIMEOUT_MS if index == 0 else 0
    return StepInput(
        session_id=session_id,
        job_id=job_id,
        project_id=project_id,
        index=index,
        step=step,
        start_url=test.start_url,
        open_start_url=index == 0 and step.action != "navigate",
        attempt=attempt,
        timeout_ms=timeout_ms,
        total_steps=len(test.steps),
        retry_in_s=retry_wait(test.retry_of(index), attempt),
        sealed_secrets=sealed_secrets or [],
        viewport=test.viewport if index == 0 else None,
    ), timeout_ms * (len(step.selectors) + 2) + first_page_ms


def login_attempt(
    session_id: str,
    job_id: str,
    project_id: int,
    test: TestDefinition,
    auth: AuthInput,
    attempt: int,
) -> tuple[AuthStepsInput, int]:
    """Attempt `attempt` of the login, and the milliseconds it may take at most."""
    return AuthStepsInput(
        session_id=session_id,
        job_id=job_id,
        project_id=project_id,
        auth=auth,
        attempt=attempt,
        timeout_ms=test.step_timeout_ms,
        retry_in_s=retry_wait(test.retry, attempt),
    ), test.step_timeout_ms * (len(auth.steps) + 1)


def new_step_records(test: TestDefinition) -> list[StepRecord]:
    """One pending record per step of the test."""
    return [
        StepRecord(index=i, action=s.action, description=s.description)
        for i, s in enumerate(test.steps)
    ]


@workflow.defn(name="SessionRun", sandboxed=False)
class SessionRunWorkflow:
    """Login and steps as local activities in one session; the context is closed at the end.

    Not sandboxed, like the run workflow, and for the same reason; the replay test guards it.
    """

    @workflow.run
    async def run(self, input: SessionRunInput) -> SessionOutcome:
        """Run the login and the steps; closing the context is left to the run if it was lost."""
        test = input.test
        outcome = SessionOutcome(ending="completed", steps=new_step_records(test))
        if input.auth is not None:
            outcome.auth = StepRecord(index=-1, action="auth", description=input.auth.name)
        try:
            await self._steps(input, outcome)
        except StepFailed as failed:
            outcome.ending, outcome.error, outcome.error_type = (
                "failed",
                str(failed),
                failed.error_type,
            )
        except SessionLost as lost:
            outcome.ending, outcome.error = "lost", str(lost)
            return outcome
        closed = await workflow.execute_local_activity(
            contracts.close_session,
            TeardownInput(
                session_id=input.session.session_id,
                job_id=input.job_id,
                session_attempt=input.session_attempt,
                keep_trace=outcome.ending != "completed",
            ),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=CLOSE_RETRY,
        )
        outcome.artifacts, outcome.ended_at = closed.artifacts, closed.ended_at
        return outcome

    async def _steps(self, input: SessionRunInput, outcome: SessionOutcome) -> None:
        """The login if the test has one, then each step with its attempts."""
        test, ids = input.test, (input.session.session_id, input.job_id, input.project_id)
        if input.auth is not None and outcome.auth is not None:
            auth = input.auth
            outcome.flaky |= await with_retries(
                outcome.auth,
                test.retry,
                lambda attempt: self._local(
                    contracts.run_auth, *login_attempt(*ids, test, auth, attempt)
                ),
            )
        for record in outcome.steps:
            outcome.flaky |= await with_retries(
                record, test.retry_of(record.index), partial(self._step, input, record.index)
            )

    def _step(self, input: SessionRunInput, index: int, attempt: int) -> Any:
        """Attempt `attempt` of step `index`, as a local activity."""
        ids = (input.session.session_id, input.job_id, input.project_id)
        attempt_input = step_attempt(*ids, input.test, index, attempt, input.sealed_secrets)
        return self._local(contracts.run_step, *attempt_input)

    def _local(self, attempt: BrowserAttempt, arg: Any, timeout_ms: int) -> Any:
        """One attempt as a local activity: it runs in this worker, beside the context."""
        return workflow.execute_local_activity(
            attempt,
            arg,
            start_to_close_timeout=timedelta(milliseconds=timeout_ms) + SAFETY_MARGIN,
            retry_policy=ONE_ATTEMPT,
        )
