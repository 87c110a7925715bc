"""The run workflow: setup -> auth -> each step -> teardown, with retries and session recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core import errors
    from core.definition import InvalidDefinition, TestDefinition, parse_test
    from core.run_result import RunProgress, SessionAttempt, StepRecord
    from core.run_state import RunState
    from core.search_attributes import RUN_STATE
    from workflows import activity_contracts as contracts
    from workflows.messages import (
        RunFinished,
        RunInput,
        SessionOutcome,
        SessionPulse,
        SlotHandover,
    )
    from workflows.session_attempt import SessionAttempts, SessionSignals
    from workflows.session_run import new_step_records

TASK_TIMEOUT = timedelta(seconds=3)
"""A run's workflow task taken by a worker that then dies goes to another worker after this long
(Temporal's default is 10 s; a run's tasks take milliseconds, and a local activity inside one
keeps it alive with heartbeats)."""


T = TypeVar("T")
A = TypeVar("A")
STORE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2,
    maximum_interval=timedelta(seconds=30),
)
"""Recording in the database is retried until it succeeds: a database outage loses nothing."""


@workflow.defn(name="TestRun", sandboxed=False)
class TestRunWorkflow:
    """One test run in a browser context on whichever worker has room.

    Not sandboxed: every waiting run is a workflow, and the sandbox's per-run set-up made
    starting 10,000 of them several times dearer (docs/benchmarks.md). The code keeps to the
    deterministic API (workflow.now, workflow.sleep, no I/O); the replay test guards it.

    A dropped run (GeneratorExit) does no clean-up: a worker that stops keeps its cached runs
    until the garbage collector closes their coroutines, outside any workflow's event loop, where
    nothing can be scheduled. The run itself goes on by replay on another worker.
    """

    __test__ = False  # not a pytest class

    @workflow.init
    def __init__(self, input: RunInput) -> None:
        self.run_input = input
        self.run_progress = RunProgress(created_at=workflow.now())
        self.signals = SessionSignals()
        self.ended_at: datetime | None = None
        """When the last session's context closed: the run's end (its slot was free then)."""
        self._admitted = not input.admission
        self._sessions = SessionAttempts(self)
        # Runs queued through the service carry search attributes; RunState follows the run.
        self._indexed = workflow.info().typed_search_attributes.get(RUN_STATE) is not None

    @workflow.query
    def progress(self) -> RunProgress:
        """State, percent, current step and attempts per step, at any moment."""
        return self.run_progress

    @workflow.signal
    def admit(self, handover: SlotHandover | None = None) -> None:
        """The dispatcher granted this queued run a session slot: it may start (as the
        successor of a running run, in that run's slot, if `handover` says so)."""
        self._admitted = True
        self.signals.handover = handover
        self.signals.grants += 1
        self.signals.released = False  # a release before this grant is not for it

    @workflow.run
    async def run(self, input: RunInput) -> RunProgress:
        """Run the test; fail the workflow with the result in its details unless it passed."""
        try:
            test = parse_test(input.test)
        except InvalidDefinition as invalid:
            await self._refuse(f"invalid test definition: {invalid}", errors.INVALID_TEST)
        if input.variables_error is not None:
            await self._refuse(input.variables_error, errors.VARIABLE_MISSING)
        self.run_progress.steps = new_step_records(test)
        if input.auth:
            auth = StepRecord(index=-1, action="auth", description=input.auth.name)
            self.run_progress.auth = auth
        dropped = False
        try:
            await self._wait_for_admission()
            await self._run_sessions(test)
        except asyncio.CancelledError:
            self.finish(RunState.CANCELLED, "the run was cancelled", errors.TEST_CANCELLED)
            raise
        except GeneratorExit:
            dropped = True  # see the class docstring
            raise
        finally:
            if not dropped:
                await self.uninterruptible(self._record_finished())
        if self.run_progress.state != RunState.COMPLETED:
            raise self._failure(self.run_progress.error_type or errors.TEST_FAILED)
        return self.run_progress

    async def _refuse(self, message: str, error_type: str) -> NoReturn:
        """End a run that cannot start (its definition or its variables), with no retry."""
        self.finish(RunState.FAILED, message, error_type)
        await self.uninterruptible(self._record_finished())
        raise self._failure(error_type) from None

    async def _run_sessions(self, test: TestDefinition) -> None:
        """Try the run in fresh sessions until it ends for a reason other than a lost session."""
        for attempt in range(1, self.run_input.max_session_attempts + 1):
            record = SessionAttempt(attempt=attempt)
            self.run_progress.session_attempts.append(record)
            self.run_progress.restart_steps()
            lost = await self._sessions.attempt(test, attempt)
            if lost is None:
                return
            record.lost_reason, record.lost_at = lost, workflow.now()
            workflow.logger.warning("session lost on attempt %d: %s", attempt, lost)
        self.finish(
            RunState.FAILED,
            f"the browser session was lost {self.run_input.max_session_attempts} times "
            f"(last: {self.run_progress.session_attempts[-1].lost_reason})",
            errors.SESSIONS_EXHAUSTED,
        )

    @workflow.signal
    def release(self) -> None:
        """A successor still waiting for its predecessor's slot may take any free one."""
        self.signals.released = True

    @workflow.signal
    def session_opened(self, attempt: int) -> None:
        """A successor's worker opened its context in its predecessor's slot."""
        self.signals.opened = attempt

    async def store(self, contract: Callable[[A], Awaitable[T]], arg: A) -> T:
        """A database activity, local (it runs in the workflow task that asks for it: no task
        of its own, no server trip) and retried until it succeeds."""
        return await workflow.execute_local_activity(
            contract,
            arg,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )

    def apply(self, outcome: SessionOutcome) -> None:
        """The session's step records become the run's; it ends as the steps ended."""
        self.ended_at = outcome.ended_at
        self.run_progress.steps, self.run_progress.auth = outcome.steps, outcome.auth
        self.run_progress.flaky = self.run_progress.flaky or outcome.flaky
        self.run_progress.artifacts.extend(outcome.artifacts)
        if outcome.ending == "completed":
            self.finish(RunState.COMPLETED)
        else:
            self.finish(RunState.FAILED, outcome.error, outcome.error_type)

    @workflow.signal
    def session_pulse(self, pulse: SessionPulse) -> None:
        """The session's worker reports the step in progress (long sessions only)."""
        if pulse.session_attempt == self.signals.pulsed_attempt:
            self.run_progress.show_step_in_progress(pulse.index, pulse.attempt)
            for record in pulse.records:
                self.run_progress.show_step_done(record)

    async def _wait_for_admission(self) -> None:
        """A run queued through the service waits for its turn (the dispatcher's grant)."""
        if not self._admitted:
            self.run_progress.enter(RunState.WAITING, "queued", 0)
            await workflow.wait_condition(lambda: self._admitted)

    async def _record_finished(self) -> None:
        """Store the final result in the database (idempotent, so retries store it once)."""
        finished = RunFinished(
            job_id=workflow.info().workflow_id,
            result=self.run_progress.model_copy(deep=True),
            project_id=self.run_input.project_id,
            slot_freed=self.ended_at is not None,
            test_name=str(self.run_input.test.get("name") or "") or None,
        )
        await self.store(contracts.record_finished, finished)

    async def uninterruptible(self, awaitable: Awaitable[T]) -> T | None:
        """Await to the end even while the run is being cancelled (then re-raise the cancel).

        A failed activity is logged and gives None: clean-up must never fail the run.
        """
        task = asyncio.ensure_future(awaitable)
        cancelled = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True
            except ActivityError as error:
                workflow.logger.warning("clean-up activity failed: %s", error.cause or error)
        if cancelled:
            raise asyncio.CancelledError
        if task.cancelled() or task.exception() is not None:
            return None
        return task.result()

    def index_state(self, state: RunState) -> None:
        if self._indexed and workflow.info().typed_search_attributes.get(RUN_STATE) != state:
            workflow.upsert_search_attributes([RUN_STATE.value_set(state.value)])

    def finish(
        self, state: RunState, error: str | None = None, error_type: str | None = None
    ) -> None:
        self.index_state(state)
        self.run_progress.end(state, self.ended_at or workflow.now(), error, error_type)

    def _failure(self, error_type: str) -> ApplicationError:
        """The workflow's failure, carrying the whole result as details."""
        return ApplicationError(
            self.run_progress.error or "the run failed",
            self.run_progress.model_dump(mode="json"),
            type=error_type,
            non_retryable=True,
        )
