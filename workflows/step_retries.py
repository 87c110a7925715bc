"""A step's attempts: each attempt is one activity, failures wait with exponential backoff.

Shared by the session workflow (attempts as local activities) and the per-step activity path
that runs started before it keep using.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from core import errors
    from core.definition import RetrySettings
    from core.run_result import AttemptFailure, StepRecord
    from workflows.messages import ActionOutcome


class SessionLost(Exception):
    """The worker holding the browser context is gone or the browser crashed."""


class WorkerLost(SessionLost):
    """The worker holding the browser context stopped answering."""

    def __init__(self, worker_id: str) -> None:
        super().__init__(f"worker {worker_id} stopped answering")
        self.worker_id = worker_id


class StepFailed(Exception):
    """A step (or the login) failed for good."""

    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


async def with_retries(
    record: StepRecord,
    policy: RetrySettings,
    attempt_once: Callable[[int], Awaitable[ActionOutcome]],
) -> bool:
    """Attempt a step up to policy.max_attempts times, sleeping with exponential backoff;
    True if it passed only on a retry (the run is flaky).

    Each attempt and each wait is in the history (an activity or its marker, then a timer).
    """
    record.status = "running"
    for attempt in range(1, policy.max_attempts + 1):
        record.attempts = attempt
        try:
            outcome = await attempt_once(attempt)
        except FailureError as error:
            # an activity's failure comes wrapped in ActivityError, a local activity's bare
            failure = (error.cause or error) if isinstance(error, ActivityError) else error
            if isinstance(failure, CancelledError):
                raise asyncio.CancelledError from None
            if isinstance(failure, ApplicationError) and failure.type == errors.SESSION_LOST:
                raise SessionLost(failure.message) from None
            message, error_type, retryable, artifacts = _describe(failure)
            last = attempt == policy.max_attempts or not retryable
            wait = None if last else policy.wait_before(attempt + 1)
            record.failures.append(
                AttemptFailure(
                    attempt=attempt,
                    error=message,
                    error_type=error_type,
                    retry_in_s=wait,
                    artifacts=artifacts,
                )
            )
            record.artifacts.extend(artifacts)
            if last:
                record.status, record.error, record.error_type = "failed", message, error_type
                raise StepFailed(_failure_message(record, message), error_type) from None
            await workflow.sleep(timedelta(seconds=wait or 0))
            continue
        record.status, record.duration_ms = "passed", outcome.duration_ms
        record.selector_used = outcome.selector_used
        record.artifacts.extend(outcome.artifacts)
        return attempt > 1
    raise AssertionError("max_attempts is at least 1")


def retry_wait(policy: RetrySettings, attempt: int) -> float | None:
    """Seconds before the next attempt should `attempt` fail; None after the last one."""
    return policy.wait_before(attempt + 1) if attempt < policy.max_attempts else None


def raise_if_cancelled(error: ActivityError) -> None:
    """An activity cancelled because the run is being cancelled (or timed out) cancels the
    caller too, instead of counting as a failed attempt."""
    if isinstance(error.cause, CancelledError):
        raise asyncio.CancelledError from None


def _describe(failure: BaseException | None) -> tuple[str, str, bool, list[str]]:
    """Message, type, whether a retry can help, and artifacts of a failed attempt."""
    if isinstance(failure, ApplicationError):
        artifacts = list(failure.details[0]) if failure.details else []
        retryable = not failure.non_retryable
        return failure.message, failure.type or errors.STEP_ERROR, retryable, artifacts
    return str(failure), errors.STEP_ERROR, True, []


def _failure_message(record: StepRecord, message: str) -> str:
    what = "login" if record.index < 0 else f"step {record.index + 1} ({record.action})"
    attempts = "1 attempt" if record.attempts == 1 else f"{record.attempts} attempts"
    return f"{what} failed after {attempts}: {message}"
