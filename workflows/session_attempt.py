"""A run's session attempts: each takes over its predecessor's slot or opens a context in a
free one, runs the steps there (a `SessionRun` on that worker, started by `run_session`), and
closes the context, or finds it lost.

The run (`workflows/test_run.py`) keeps its state, its result and its signals; it asks this
object for one attempt at a time and starts another while they end lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from core import errors
    from core.definition import TestDefinition
    from core.queues import SESSION_TASK_QUEUE, worker_session_queue
    from core.run_result import SETUP_DONE, STEPS_START, RunProgress
    from core.run_state import UNFINISHED_STATES, RunState
    from workflows import activity_contracts as contracts
    from workflows.messages import (
        RunInput,
        SessionInfo,
        SessionOutcome,
        SessionRequest,
        SessionRunInput,
        SlotHandover,
        TeardownInput,
        TeardownOutcome,
    )
    from workflows.session_run import ONE_ATTEMPT
    from workflows.step_retries import SessionLost, WorkerLost, raise_if_cancelled

SETUP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2, maximum_attempts=5
)
TEARDOWN_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2, maximum_attempts=3
)
HANDOVER_WAIT = timedelta(days=1, minutes=15)
"""How long a successor may wait on its predecessor's worker: that run's longest possible life
(the longest test timeout, with room for its close); the worker's heartbeats show it alive."""

T = TypeVar("T")
A = TypeVar("A")


class SlotNotHandedOver(Exception):
    """A successor's slot was not handed over: it opens a session like any run."""


class QueuedAgain(Exception):
    """A successor's slot was not handed over and it is back in line (`queue_again`): it
    waits for a new grant (within its project's limit)."""


@dataclass
class SessionSignals:
    """What the run's signals tell its session attempts."""

    handover: SlotHandover | None = None
    """The grant named a predecessor's slot to take over."""
    grants: int = 0
    """Grants received (a successor put back in line waits for the next one)."""
    released: bool = False
    """The dispatcher found a free slot for this waiting successor: it goes there."""
    opened: int | None = None
    """The session attempt whose context a successor's worker said is open."""
    pulsed_attempt: int | None = None
    """The attempt whose pulses (the step in progress) the run shows."""


class SessionHost(Protocol):
    """What a session attempt asks of its run."""

    run_input: RunInput
    run_progress: RunProgress
    signals: SessionSignals
    ended_at: datetime | None
    """When the last session's context closed: the run's end (its slot was free then)."""

    def finish(
        self, state: RunState, error: str | None = None, error_type: str | None = None
    ) -> None: ...

    def index_state(self, state: RunState) -> None: ...

    async def store(self, contract: Callable[[A], Awaitable[T]], arg: A) -> T: ...

    async def uninterruptible(self, awaitable: Awaitable[T]) -> T | None: ...

    def apply(self, outcome: SessionOutcome) -> None: ...


class SessionAttempts:
    """A run's session attempts, one at a time (`attempt`)."""

    def __init__(self, run: SessionHost) -> None:
        self._run = run
        self._signals = run.signals

    async def attempt(self, test: TestDefinition, attempt: int) -> str | None:
        """One session attempt: in a predecessor's slot if the grant named one (again, after
        each new grant, while the slot is not handed over), else in any free slot. Why the
        session was lost, or None."""
        while True:
            handover, self._signals.handover = self._signals.handover, None
            try:
                if handover is None:
                    raise SlotNotHandedOver
                return await self._successor_session_run(test, attempt, handover)
            except QueuedAgain:
                await self._next_grant()
            except SlotNotHandedOver:
                self._run.ended_at = None  # a released successor's close was not the run's end
                break
        session = await self._open_session(test, attempt)
        return await self._session_run(test, session, attempt)

    async def _next_grant(self) -> None:
        """A successor put back in line waits for the dispatcher's next grant."""
        grants = self._signals.grants
        self._run.run_progress.enter(RunState.WAITING, "queued", 0)
        await workflow.wait_condition(lambda: self._signals.grants > grants)

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
            project_id=self._run.run_input.project_id,
            test=test,
            auth=self._run.run_input.auth,
            session=session,
            session_attempt=attempt,
            sealed_secrets=self._run.run_input.sealed_secrets,
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
            self._signals.pulsed_attempt = attempt
            if self._run.run_input.auth:
                self._run.run_progress.enter(RunState.ACTIVE, "auth", SETUP_DONE)
            else:
                self._run.run_progress.enter(RunState.ACTIVE, "steps", STEPS_START)
            outcome = await asyncio.wait_for(
                self._session_result(running, session), timeout=test.timeout_s
            )
        except SessionLost as error:
            lost = str(error)  # its worker or its browser is gone: nothing left to close
            if isinstance(error, WorkerLost):
                await self._forget_worker(error.worker_id)
        except TimeoutError:
            self._run.finish(
                RunState.TIMED_OUT, f"the run exceeded {test.timeout_s} s", errors.TEST_TIMED_OUT
            )
        except GeneratorExit:
            dropped = True  # see the class docstring
            raise
        finally:
            self._signals.pulsed_attempt = None
            if not dropped:
                if outcome is None:  # a finished session's activity has ended by itself
                    _abandon(running)
                else:
                    _forget(running)
                if outcome is None and lost is None and missed is None:
                    await self._teardown(session, attempt, keep_trace=True, frees=not released)
        if outcome is not None:
            self._run.apply(outcome)
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
        lost_after = timedelta(seconds=self._run.run_input.session_lost_timeout_s)
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
        self._run.run_progress.enter(RunState.WAITING, "starting", 0)
        await workflow.wait_condition(
            lambda: self._signals.opened == attempt or running.done() or self._signals.released
        )
        if self._signals.opened != attempt and not running.done():
            workflow.logger.info("released from its predecessor's slot to a free one")
            self._signals.released = False
            return None, True
        if self._signals.opened == attempt or running.exception() is None:
            self._session_opened(session)  # (a late `session_opened` changes nothing)
            return None, False
        error = running.exception()
        if isinstance(error, ActivityError):
            raise_if_cancelled(error)
        workflow.logger.info("the slot was not handed over: %s", _cause(error))
        if await self._run.store(contracts.queue_again, workflow.info().workflow_id):
            return QueuedAgain(), False
        return None, False  # it opened after all: its session is lost, as `running` says

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
        await self._run.store(contracts.forget_worker, worker_id)

    async def _open_session(self, test: TestDefinition, attempt: int) -> SessionInfo:
        """Wait in the session queue until a worker with a free slot opens a context."""
        self._run.run_progress.enter(RunState.WAITING, "starting", 0)
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
            project_id=self._run.run_input.project_id,
            session_attempt=attempt,
            trace=test.trace,
            lifetime_s=test.timeout_s + 120,
        )

    def _session_opened(self, session: SessionInfo) -> None:
        """The run is active in its attempt's context, on that context's worker."""
        if self._run.run_progress.started_at is None:
            self._run.run_progress.started_at = workflow.now()
        record = self._run.run_progress.session_attempts[-1]
        record.worker_id, record.opened_at = session.worker_id, workflow.now()
        self._run.run_progress.enter(RunState.ACTIVE, "setup", 10)
        self._run.index_state(RunState.ACTIVE)

    async def _teardown(
        self, session: SessionInfo, attempt: int, keep_trace: bool, frees: bool = True
    ) -> None:
        """Close the context, even while the run is being cancelled; never fails the run
        (nor, unless `frees`, its slot: a released successor keeps its admission).

        A step the close interrupted shows as running, so that a cancel records it as
        cancelled even when no pulse told of it (a session's first second)."""
        self._run.run_progress.enter(self._run.run_progress.state, "teardown", 90)
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
            schedule_to_start_timeout=timedelta(seconds=self._run.run_input.session_lost_timeout_s),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=TEARDOWN_RETRY,
        )
        closing = asyncio.ensure_future(task)
        closing.add_done_callback(self._torn_down)
        await self._run.uninterruptible(closing)

    def _torn_down(self, closing: asyncio.Future[TeardownOutcome]) -> None:
        """What teardown reports, kept even while the run is being cancelled."""
        if closing.cancelled() or closing.exception() is not None:
            return
        outcome = closing.result()
        self._run.ended_at = outcome.ended_at
        self._run.run_progress.artifacts.extend(outcome.artifacts)
        if outcome.interrupted is not None and self._run.run_progress.state in UNFINISHED_STATES:
            self._run.run_progress.show_step_in_progress(
                outcome.interrupted.index, outcome.interrupted.attempt
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
