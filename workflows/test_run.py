"""The run workflow: setup -> auth -> each step -> teardown, with retries and session recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, NoReturn, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from core import errors
    from core.definition import (
        InvalidDefinition,
        TestDefinition,
        parse_test,
    )
    from core.queues import SESSION_TASK_QUEUE, worker_session_queue
    from core.run_result import SETUP_DONE, STEPS_START, RunProgress, SessionAttempt, StepRecord
    from core.run_state import UNFINISHED_STATES, RunState
    from core.search_attributes import RUN_STATE
    from workflows import activity_contracts as contracts
    from workflows.messages import (
        RunFinished,
        RunInput,
        SessionInfo,
        SessionOutcome,
        SessionPulse,
        SessionRequest,
        SessionRunInput,
        SlotHandover,
        TeardownInput,
        TeardownOutcome,
    )
    from workflows.session_run import (
        ONE_ATTEMPT,
        new_step_records,
    )
    from workflows.step_retries import (
        SessionLost,
        WorkerLost,
        raise_if_cancelled,
    )

SETUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2, maximum_attempts=5
)
TEARDOWN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2, maximum_attempts=3
)
HANDOVER_WAIT = timedelta(days=1, minutes=15)
"""How long a successor may wait on its predecessor's worker: that run's longest possible life
(the longest test timeout, with room for its close); the worker's heartbeats show it alive."""

TASK_TIMEOUT = timedelta(seconds=3)
"""A run's workflow task taken by a worker that then dies goes to another worker after this long
(Temporal's default is 10 s; a run's tasks take milliseconds, and a local activity inside one
keeps it alive with heartbeats)."""


class SlotNotHandedOver(Exception):
    """A successor's slot was not handed over: it opens a session like any run."""


class QueuedAgain(Exception):
    """A successor's slot was not handed over and it is back in line (`queue_again`): it
    waits for a new grant (within its project's limit)."""


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
        self._input = input
        self._progress = RunProgress(created_at=workflow.now())
        self._admitted = not input.admission
        self._handover: SlotHandover | None = None
        self._opened: int | None = None
        """The session attempt whose context a successor's worker said is open."""
        self._released = False
        """The dispatcher found a free slot for this waiting successor: it goes there."""
        self._grants = 0
        """Grants received (a successor put back in line waits for the next one)."""
        self._pulsed_attempt: int | None = None
        self._ended_at: datetime | None = None
        """When the last session's context closed: the run's end (its slot was free then)."""
        # Runs queued through the service carry search attributes; RunState follows the run.
        self._indexed = workflow.info().typed_search_attributes.get(RUN_STATE) is not None

    @workflow.query
    def progress(self) -> RunProgress:
        """State, percent, current step and attempts per step, at any moment."""
        return self._progress

    @workflow.signal
    def admit(self, handover: SlotHandover | None = None) -> None:
        """The dispatcher granted this queued run a session slot: it may start (as the
        successor of a running run, in that run's slot, if `handover` says so)."""
        self._admitted = True
        self._handover = handover
        self._grants += 1
        self._released = False  # a release before this grant is not for it

    @workflow.run
    async def run(self, input: RunInput) -> RunProgress:
        """Run the test; fail the workflow with the result in its details unless it passed."""
        try:
            test = parse_test(input.test)
        except InvalidDefinition as invalid:
            await self._refuse(f"invalid test definition: {invalid}", errors.INVALID_TEST)
        if input.variables_error is not None:
            await self._refuse(input.variables_error, errors.VARIABLE_MISSING)
        self._progress.steps = new_step_records(test)
        if input.auth:
            self._progress.auth = StepRecord(index=-1, action="auth", description=input.auth.name)
        dropped = False
        try:
            await self._wait_for_admission()
            await self._run_sessions(test)
        except asyncio.CancelledError:
            self._finish(RunState.CANCELLED, "the run was cancelled", errors.TEST_CANCELLED)
            raise
        except GeneratorExit:
            dropped = True  # see the class docstring
            raise
        finally:
            if not dropped:
                await self._uninterruptible(self._record_finished())
        if self._progress.state != RunState.COMPLETED:
            raise self._failure(self._progress.error_type or errors.TEST_FAILED)
        return self._progress

    async def _refuse(self, message: str, error_type: str) -> NoReturn:
        """End a run that cannot start (its definition or its variables), with no retry."""
        self._finish(RunState.FAILED, message, error_type)
        await self._uninterruptible(self._record_finished())
        raise self._failure(error_type) from None

    async def _run_sessions(self, test: TestDefinition) -> None:
        """Try the run in fresh sessions until it ends for a reason other than a lost session."""
        for attempt in range(1, self._input.max_session_attempts + 1):
            record = SessionAttempt(attempt=attempt)
            self._progress.session_attempts.append(record)
            self._progress.restart_steps()
            lost = await self._session_attempt(test, attempt)
            if lost is None:
                return
            record.lost_reason, record.lost_at = lost, workflow.now()
            workflow.logger.warning("session lost on attempt %d: %s", attempt, lost)
        self._finish(
            RunState.FAILED,
            f"the browser session was lost {self._input.max_session_attempts} times "
            f"(last: {self._progress.session_attempts[-1].lost_reason})",
            errors.SESSIONS_EXHAUSTED,
        )

    async def _session_attempt(self, test: TestDefinition, attempt: int) -> str | None:
        """One session attempt: in a predecessor's slot if the grant named one (again, after
        each new grant, while the slot is not handed over), else in any free slot. Why the
        session was lost, or None."""
        while True:
            handover, self._handover = self._handover, None
            try:
                if handover is None:
                    raise SlotNotHandedOver
                return await self._successor_session_run(test, attempt, handover)
            except QueuedAgain:
                await self._next_grant()
            except SlotNotHandedOver:
                self._ended_at = None  # a released successor's close was not the run's end
                break
        session = await self._open_session(test, attempt)
        return await self._session_run(test, session, attempt)

    async def _next_grant(self) -> None:
        """A successor put back in line waits for the dispatcher's next grant."""
        grants = self._grants
        self._progress.enter(RunState.WAITING, "queued", 0)
        await workflow.wait_condition(lambda: self._grants > grants)

    async def _successor_session_run(
        self, test: TestDefinition, attempt: int, handover: SlotHandover
    ) -> str | None:
        """As `_session_run`, in the slot of the run the handover names: one activity on its
        worker opens the context there as that run's closes and runs the steps at once.
        QueuedAgain if the slot was not handed over; SlotNotHandedOver if the dispatcher
        released the run to a free slot first."""
        session = SessionInfo(
            session_id=str(workflow.uuid4()),
            task_queue=worker_session_queue(handover.worker_id),
            worker_id=handover.worker_id,
        )
        opening = self._session_request(test, attempt).model_copy(
            update={"after_run": handover.after_run}
        )
        return await self._session_run(test, session, attempt, opening)

    async def _session_run(
        self,
        test: TestDefinition,
        session: SessionInfo,
        attempt: int,
        opening: SessionRequest | None = None,
    ) -> str | None:
        """Run the steps in a SessionRun on the session's worker, started there by the
        `run_session` activity, whose heartbeats are the worker's liveness. With `opening`,
        that activity opens the context first (`_successor_session_run`).

        The run keeps the timeout and the cancel: either closes the context from here, which
        ends the step in progress at once. Returns why the session was lost, or None.
        """
        steps = SessionRunInput(
            job_id=workflow.info().workflow_id,
            project_id=self._input.project_id,
            test=test,
            auth=self._input.auth,
            session=session,
            session_attempt=attempt,
            sealed_secrets=self._input.sealed_secrets,
            opening=opening,
        )
        running = asyncio.ensure_future(
            self._run_session(steps, test.timeout_s, waits=opening is not None)
        )
        outcome: SessionOutcome | None = None
        lost: str | None = None
        dropped = released = False
        missed: Exception | None = None
        try:
            if opening is not None:
                missed, released = await self._until_opened(running, session, attempt)
                if missed:
                    raise missed
                if released:
                    raise SlotNotHandedOver
            self._pulsed_attempt = attempt
            if self._input.auth:
                self._progress.enter(RunState.ACTIVE, "auth", SETUP_DONE)
            else:
                self._progress.enter(RunState.ACTIVE, "steps", STEPS_START)
            outcome = await asyncio.wait_for(
                self._session_result(running, session), timeout=test.timeout_s
            )
        except SessionLost as error:
            lost = str(error)  # its worker or its browser is gone: nothing left to close
            if isinstance(error, WorkerLost):
                await self._forget_worker(error.worker_id)
        except TimeoutError:
            self._finish(
                RunState.TIMED_OUT, f"the run exceeded {test.timeout_s} s", errors.TEST_TIMED_OUT
            )
        except GeneratorExit:
            dropped = True  # see the class docstring
            raise
        finally:
            self._pulsed_attempt = None
            if not dropped:
                if outcome is None:  # a finished session's activity has ended by itself
                    _abandon(running)
                else:
                    _forget(running)
                if outcome is None and lost is None and missed is None:
                    await self._teardown(session, attempt, keep_trace=True, frees=not released)
        if outcome is not None:
            self._apply(outcome)
        return lost

    async def _run_session(
        self, steps: SessionRunInput, timeout_s: int, waits: bool = False
    ) -> SessionOutcome:
        """The session's outcome from its worker, which heartbeats while the steps run (and,
        for a successor, while it `waits` for its slot)."""
        return await self._heartbeating(
            contracts.run_session,
            steps,
            steps.session.task_queue,
            timeout_s,
            HANDOVER_WAIT if waits else timedelta(0),
        )

    async def _heartbeating(
        self,
        contract: Callable[[A], Awaitable[T]],
        arg: A,
        task_queue: str,
        timeout_s: int,
        more: timedelta = timedelta(0),
    ) -> T:
        """An activity on the session's worker that heartbeats for the session's length (and
        `more`): its heartbeats (or nobody taking it) stopping for session_lost_timeout_s is a
        lost worker."""
        lost_after = timedelta(seconds=self._input.session_lost_timeout_s)
        return await workflow.execute_activity(
            contract,
            arg,
            task_queue=task_queue,
            schedule_to_start_timeout=lost_after,
            start_to_close_timeout=timedelta(seconds=timeout_s + 120) + more,
            heartbeat_timeout=lost_after,
            retry_policy=ONE_ATTEMPT,
        )

    async def _until_opened(
        self, running: asyncio.Future[SessionOutcome], session: SessionInfo, attempt: int
    ) -> tuple[Exception | None, bool]:
        """Wait until the successor's context is open (its worker signals `session_opened`).
        If it never will be there (the predecessor's context was gone from that worker, or the
        worker stopped answering), the run is put back in line to wait for a new grant within
        its project's limit: QueuedAgain. Second: whether the dispatcher released the run to
        a free slot first (the context, if it opened meanwhile, is closed)."""
        self._progress.enter(RunState.WAITING, "starting", 0)
        await workflow.wait_condition(
            lambda: self._opened == attempt or running.done() or self._released
        )
        if self._opened != attempt and not running.done():
            workflow.logger.info("released from its predecessor's slot to a free one")
            self._released = False
            return None, True
        if self._opened == attempt or running.exception() is None:
            self._session_opened(session)  # (a late `session_opened` changes nothing)
            return None, False
        error = running.exception()
        if isinstance(error, ActivityError):
            raise_if_cancelled(error)
        workflow.logger.info("the slot was not handed over: %s", _cause(error))
        if await self._store(contracts.queue_again, workflow.info().workflow_id):
            return QueuedAgain(), False
        return None, False  # it opened after all: its session is lost, as `running` says

    @workflow.signal
    def release(self) -> None:
        """A successor still waiting for its predecessor's slot may take any free one."""
        self._released = True

    @workflow.signal
    def session_opened(self, attempt: int) -> None:
        """A successor's worker opened its context in its predecessor's slot."""
        self._opened = attempt

    async def _session_result(
        self, running: asyncio.Future[SessionOutcome], session: SessionInfo
    ) -> SessionOutcome:
        """The session's outcome, or SessionLost as soon as its worker stops answering."""
        try:
            outcome = await running
        except ActivityError as error:
            raise _lost(error, session) from None
        return _unless_lost(outcome)

    async def _forget_worker(self, worker_id: str) -> None:
        """Take the dead worker's slots out of the capacity (the dispatcher sees it at once)."""
        await self._store(contracts.forget_worker, worker_id)

    async def _store(self, contract: Callable[[A], Awaitable[T]], arg: A) -> T:
        """A database activity, local (it runs in the workflow task that asks for it: no task
        of its own, no server trip) and retried until it succeeds."""
        return await workflow.execute_local_activity(
            contract,
            arg,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=STORE_RETRY,
        )

    def _apply(self, outcome: SessionOutcome) -> None:
        """The session's step records become the run's; it ends as the steps ended."""
        self._ended_at = outcome.ended_at
        self._progress.steps, self._progress.auth = outcome.steps, outcome.auth
        self._progress.flaky = self._progress.flaky or outcome.flaky
        self._progress.artifacts.extend(outcome.artifacts)
        if outcome.ending == "completed":
            self._finish(RunState.COMPLETED)
        else:
            self._finish(RunState.FAILED, outcome.error, outcome.error_type)

    @workflow.signal
    def session_pulse(self, pulse: SessionPulse) -> None:
        """The session's worker reports the step in progress (long sessions only)."""
        if pulse.session_attempt == self._pulsed_attempt:
            self._progress.show_step_in_progress(pulse.index, pulse.attempt)
            for record in pulse.records:
                self._progress.show_step_done(record)

    async def _wait_for_admission(self) -> None:
        """A run queued through the service waits for its turn (the dispatcher's grant)."""
        if not self._admitted:
            self._progress.enter(RunState.WAITING, "queued", 0)
            await workflow.wait_condition(lambda: self._admitted)

    async def _open_session(self, test: TestDefinition, attempt: int) -> SessionInfo:
        """Wait in the session queue until a worker with a free slot opens a context."""
        self._progress.enter(RunState.WAITING, "starting", 0)
        try:
            session = await workflow.execute_activity(
                contracts.open_session,
                self._session_request(test, attempt),
                task_queue=SESSION_TASK_QUEUE,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=SETUP_RETRY,
            )
        except ActivityError as error:
            raise_if_cancelled(error)
            raise
        self._session_opened(session)
        return session

    def _session_request(self, test: TestDefinition, attempt: int) -> SessionRequest:
        return SessionRequest(
            job_id=workflow.info().workflow_id,
            project_id=self._input.project_id,
            session_attempt=attempt,
            trace=test.trace,
            lifetime_s=test.timeout_s + 120,
        )

    def _session_opened(self, session: SessionInfo) -> None:
        """The run is active in its attempt's context, on that context's worker."""
        if self._progress.started_at is None:
            self._progress.started_at = workflow.now()
        record = self._progress.session_attempts[-1]
        record.worker_id, record.opened_at = session.worker_id, workflow.now()
        self._progress.enter(RunState.ACTIVE, "setup", 10)
        self._index_state(RunState.ACTIVE)

    async def _record_finished(self) -> None:
        """Store the final result in the database (idempotent, so retries store it once)."""
        finished = RunFinished(
            job_id=workflow.info().workflow_id,
            result=self._progress.model_copy(deep=True),
            project_id=self._input.project_id,
            slot_freed=self._ended_at is not None,
            test_name=str(self._input.test.get("name") or "") or None,
        )
        await self._store(contracts.record_finished, finished)

    async def _teardown(
        self, session: SessionInfo, attempt: int, keep_trace: bool, frees: bool = True
    ) -> None:
        """Close the context, even while the run is being cancelled; never fails the run
        (nor, unless `frees`, its slot: a released successor keeps its admission).

        A step the close interrupted shows as running, so that a cancel records it as
        cancelled even when no pulse told of it (a session's first second)."""
        self._progress.enter(self._progress.state, "teardown", 90)
        task = workflow.execute_activity(
            contracts.close_session,
            TeardownInput(
                session_id=session.session_id,
                job_id=workflow.info().workflow_id,
                session_attempt=attempt,
                keep_trace=keep_trace,
                frees_slot=frees,
            ),
            task_queue=session.task_queue,
            schedule_to_start_timeout=timedelta(seconds=self._input.session_lost_timeout_s),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=TEARDOWN_RETRY,
        )
        closing = asyncio.ensure_future(task)
        closing.add_done_callback(self._torn_down)
        await self._uninterruptible(closing)

    def _torn_down(self, closing: asyncio.Future[TeardownOutcome]) -> None:
        """What teardown reports, kept even while the run is being cancelled."""
        if closing.cancelled() or closing.exception() is not None:
            return
        outcome = closing.result()
        self._ended_at = outcome.ended_at
        self._progress.artifacts.extend(outcome.artifacts)
        if outcome.interrupted is not None and self._progress.state in UNFINISHED_STATES:
            self._progress.show_step_in_progress(
                outcome.interrupted.index, outcome.interrupted.attempt
            )

    async def _uninterruptible(self, awaitable: Awaitable[T]) -> T | None:
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

    def _index_state(self, state: RunState) -> None:
        if self._indexed and workflow.info().typed_search_attributes.get(RUN_STATE) != state:
            workflow.upsert_search_attributes([RUN_STATE.value_set(state.value)])

    def _finish(
        self, state: RunState, error: str | None = None, error_type: str | None = None
    ) -> None:
        self._index_state(state)
        self._progress.end(state, self._ended_at or workflow.now(), error, error_type)

    def _failure(self, error_type: str) -> ApplicationError:
        """The workflow's failure, carrying the whole result as details."""
        return ApplicationError(
            self._progress.error or "the run failed",
            self._progress.model_dump(mode="json"),
            type=error_type,
            non_retryable=True,
        )


def _lost(error: ActivityError, session: SessionInfo) -> SessionLost:
    """Why a session activity failed: the worker stopped answering (no heartbeat, or nobody
    took the task), or the session itself went. A cancel is re-raised as such."""
    raise_if_cancelled(error)
    if isinstance(error.cause, ActivityTimeout):
        return WorkerLost(session.worker_id)
    return SessionLost(str(error.cause or error))


def _cause(error: BaseException | None) -> BaseException | None:
    """An activity's failure's cause (its error, or its timeout)."""
    return error.cause if isinstance(error, ActivityError) and error.cause else error


def _unless_lost(outcome: SessionOutcome) -> SessionOutcome:
    """The session's outcome, unless its context vanished under the steps."""
    if outcome.ending == "lost":
        raise SessionLost(outcome.error or "the browser session was lost")
    return outcome


def _abandon(task: asyncio.Future[Any]) -> None:
    """Cancel a task the run no longer waits for."""
    if not task.done():
        task.cancel()
    _forget(task)


def _forget(task: asyncio.Future[Any]) -> None:
    """The task's outcome, whatever it is, is not needed (and not worth a warning)."""
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
