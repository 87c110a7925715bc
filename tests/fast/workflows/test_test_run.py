"""The run workflow's own logic on the time-skipping test server, its activities stood in for:
retries and their backoff waits, failures that end a run at once, the login, a worker that stops
answering, cancel and timeout reaching teardown, and waiting for the dispatcher's grant. The
browser and the database are proven by the end-to-end tier; here the waits take seconds."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.testservice.v1 import LockTimeSkippingRequest, UnlockTimeSkippingRequest
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core import errors
from core.queues import SESSION_TASK_QUEUE
from core.run_ids import session_workflow_id
from core.run_result import RunProgress
from core.run_state import RunState
from tests.support.runs import poll
from tests.support.time_skipping import start_time_skipping
from workflows.messages import (
    ActionOutcome,
    AuthInput,
    AuthStepsInput,
    RunFinished,
    RunInput,
    SessionInfo,
    SessionOutcome,
    SessionRequest,
    SessionRunInput,
    StepInput,
    TeardownInput,
    TeardownOutcome,
)
from workflows.session_run import SessionRunWorkflow
from workflows.test_run import TestRunWorkflow

LIVE_QUEUE = "browser-sessions/stand-in"
TICK = timedelta(seconds=5)
TICK_EVERY_S = 0.05
"""The clock moves TICK of virtual time every TICK_EVERY_S of real time (at most)."""
DEAD_QUEUE = "browser-sessions/nobody-polls-this"
"""A session opened on a worker that died at once: nothing ever picks up its tasks."""


class StandInWorker:
    """The browser and database activities, as a script: which attempts fail, which session
    lands on a dead worker. It records what the workflow asked of it."""

    def __init__(
        self,
        failing: dict[tuple[int, int], ApplicationError] | None = None,
        dead_sessions: frozenset[int] = frozenset(),
    ) -> None:
        self.failing = failing or {}
        self.dead_sessions = dead_sessions
        self.opened: list[SessionRequest] = []
        self.attempts: list[tuple[int, int]] = []
        self.closed: list[TeardownInput] = []
        self.recorded: list[RunFinished] = []
        self.forgotten: list[str] = []

    @property
    def result(self) -> RunProgress:
        [finished] = self.recorded
        return finished.result

    async def attempts_so_far(self) -> list[tuple[int, int]]:
        return list(self.attempts)

    @activity.defn
    async def open_session(self, request: SessionRequest) -> SessionInfo:
        self.opened.append(request)
        dead = request.session_attempt in self.dead_sessions
        return SessionInfo(
            session_id=f"{request.job_id}-session-{request.session_attempt}",
            task_queue=DEAD_QUEUE if dead else LIVE_QUEUE,
            worker_id="dead-worker" if dead else "stand-in",
        )

    @activity.defn
    async def run_step(self, input: StepInput) -> ActionOutcome:
        return await self._attempt(input.index, input.attempt)

    @activity.defn
    async def run_auth(self, input: AuthStepsInput) -> ActionOutcome:
        return await self._attempt(-1, input.attempt)

    async def _attempt(self, index: int, attempt: int) -> ActionOutcome:
        self.attempts.append((index, attempt))
        if failure := self.failing.get((index, attempt)):
            raise failure
        return ActionOutcome(duration_ms=7)

    @activity.defn
    async def close_session(self, input: TeardownInput) -> TeardownOutcome:
        self.closed.append(input)
        trace = f"trace-attempt-{input.session_attempt}.zip"
        return TeardownOutcome(artifacts=[trace] if input.keep_trace else [])

    @activity.defn
    async def run_session(self, input: SessionRunInput) -> SessionOutcome:
        """Start the session's SessionRun on this (stand-in) worker's queue, as the real
        worker does, and heartbeat until it ends (a cancel arrives with a heartbeat). The test
        server holds its clock while an activity runs: this one lets `finished` move it."""
        client = activity.client()
        session = await client.start_workflow(
            SessionRunWorkflow.run,
            input,
            id=session_workflow_id(input.job_id, input.session_attempt),
            task_queue=input.session.task_queue,
        )
        outcome = asyncio.ensure_future(session.result())
        await client.test_service.unlock_time_skipping(UnlockTimeSkippingRequest())
        try:
            while not outcome.done():
                activity.heartbeat()
                await asyncio.wait([outcome], timeout=0.1)
            return outcome.result()
        finally:
            outcome.cancel()
            await client.test_service.lock_time_skipping(LockTimeSkippingRequest())

    @activity.defn
    async def record_finished(self, event: RunFinished) -> bool:
        self.recorded.append(event)
        return True

    @activity.defn
    async def forget_worker(self, worker_id: str) -> None:
        self.forgotten.append(worker_id)


@asynccontextmanager
async def service(env: WorkflowEnvironment, stand_in: StandInWorker) -> AsyncIterator[str]:
    """The three task queues a run uses, served by stand-ins; yields the runs' queue."""
    runs_queue = f"runs-{uuid.uuid4().hex[:8]}"
    browser_side: list[Callable[..., Any]] = [
        stand_in.run_step,
        stand_in.run_auth,
        stand_in.close_session,
        stand_in.run_session,
    ]
    served: list[tuple[str, list[type], list[Callable[..., Any]]]] = [
        (runs_queue, [TestRunWorkflow], [stand_in.record_finished, stand_in.forget_worker]),
        (SESSION_TASK_QUEUE, [], [stand_in.open_session]),
        (LIVE_QUEUE, [SessionRunWorkflow], browser_side),
    ]
    async with AsyncExitStack() as stack:
        # Time moves only when `finished` moves it: left to itself, the test server skips to
        # the next timer whenever no activity runs, even between an activity's scheduling and
        # its start (a session's activity, scheduled beside the run's time limit, lost that
        # race and the run timed out at once).
        stack.enter_context(env.auto_time_skipping_disabled())
        for queue, workflows, activities in served:
            worker = Worker(
                env.client, task_queue=queue, workflows=workflows, activities=activities
            )
            await stack.enter_async_context(worker)
        yield runs_queue


@pytest.fixture
async def own_server() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of its own, for a test that leaves a session no worker will start: the
    task left pending keeps a server from skipping time ever after."""
    environment = await start_time_skipping()
    yield environment
    await environment.shutdown()


def a_test(steps: int = 3, **settings: Any) -> dict[str, Any]:
    return {
        "name": "stand-in test",
        "start_url": "http://shop.example/",
        "steps": [{"action": "click", "selector": f"#button-{i}"} for i in range(steps)],
        **settings,
    }


async def start(
    env: WorkflowEnvironment, queue: str, test: dict[str, Any], **options: Any
) -> WorkflowHandle[Any, Any]:
    run = RunInput(test=test, **{"session_lost_timeout_s": 600, **options})
    return await env.client.start_workflow(
        TestRunWorkflow.run, run, id=f"run-{uuid.uuid4().hex}", task_queue=queue
    )


async def finished(
    env: WorkflowEnvironment, handle: WorkflowHandle[Any, Any], tick: timedelta | None = TICK
) -> None:
    """Wait for the run's end, whatever it is (its result is read from what was recorded),
    moving the clock on meanwhile by `tick` at a time (see `service`); without a tick, time
    passes as in reality (heartbeat timeouts hold only at that pace)."""
    ending = asyncio.ensure_future(handle.result())
    while not ending.done():
        if tick is not None:
            await env.sleep(tick)
        await asyncio.wait([ending], timeout=TICK_EVERY_S)
    with contextlib.suppress(Exception):  # a run that did not pass fails its workflow
        ending.result()


async def timers_of(env: WorkflowEnvironment, workflow_id: str) -> list[float]:
    """The durations of the timers a workflow started, in seconds, in order."""
    history = await env.client.get_workflow_handle(workflow_id).fetch_history()
    return [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta().total_seconds()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]


def step_error(message: str, error_type: str = errors.STEP_ERROR, retryable: bool = True) -> Any:
    return ApplicationError(message, [], type=error_type, non_retryable=not retryable)


async def test_a_step_that_fails_twice_passes_on_its_third_attempt_after_backoff_waits(
    time_skipping: WorkflowEnvironment,
) -> None:
    """Waits of 30 s and then 60 s, in history as timers; the run is flaky, not failed."""
    stand_in = StandInWorker(failing={(1, 1): step_error("gone"), (1, 2): step_error("gone")})
    retry = {"max_attempts": 3, "initial_interval_s": 30, "backoff_coefficient": 2}
    async with service(time_skipping, stand_in) as queue:
        handle = await start(time_skipping, queue, a_test(retry=retry))
        await finished(time_skipping, handle)
    result = stand_in.result
    assert result.state == RunState.COMPLETED and result.flaky
    assert [step.attempts for step in result.steps] == [1, 3, 1]
    assert [f.retry_in_s for f in result.steps[1].failures] == [30, 60]
    assert await timers_of(time_skipping, session_workflow_id(handle.id, 1)) == [30, 60]
    assert [c.keep_trace for c in stand_in.closed] == [False]


async def test_a_failure_no_retry_can_help_ends_the_run_at_once_and_keeps_the_trace(
    time_skipping: WorkflowEnvironment,
) -> None:
    refusal = step_error("blocked by the egress policy", errors.EGRESS_BLOCKED, retryable=False)
    stand_in = StandInWorker(failing={(0, 1): refusal})
    async with service(time_skipping, stand_in) as queue:
        await finished(time_skipping, await start(time_skipping, queue, a_test()))
    result = stand_in.result
    assert result.state == RunState.FAILED and result.error_type == errors.EGRESS_BLOCKED
    assert result.error == "step 1 (click) failed after 1 attempt: blocked by the egress policy"
    assert [step.status for step in result.steps] == ["failed", "skipped", "skipped"]
    assert stand_in.attempts == [(0, 1)]
    assert [c.keep_trace for c in stand_in.closed] == [True]
    assert "trace-attempt-1.zip" in result.artifacts


async def test_a_step_that_always_fails_fails_the_run_after_its_attempts(
    time_skipping: WorkflowEnvironment,
) -> None:
    stand_in = StandInWorker(failing={(0, n): step_error(f"try {n}") for n in (1, 2)})
    async with service(time_skipping, stand_in) as queue:
        run = await start(time_skipping, queue, a_test(retry={"max_attempts": 2}))
        await finished(time_skipping, run)
    result = stand_in.result
    assert result.state == RunState.FAILED
    assert result.error == "step 1 (click) failed after 2 attempts: try 2"
    assert [f.error for f in result.steps[0].failures] == ["try 1", "try 2"]
    assert [f.retry_in_s for f in result.steps[0].failures] == [2.0, None]


async def test_the_login_is_retried_like_a_step_before_any_step_runs(
    time_skipping: WorkflowEnvironment,
) -> None:
    stand_in = StandInWorker(failing={(-1, 1): step_error("no #submit yet")})
    auth = AuthInput(
        name="login", login_url="http://shop.example/login", steps=[], sealed_credentials="x"
    )
    async with service(time_skipping, stand_in) as queue:
        run = await start(time_skipping, queue, a_test(steps=1), auth=auth)
        await finished(time_skipping, run)
    result = stand_in.result
    assert result.state == RunState.COMPLETED and result.flaky
    assert result.auth is not None and result.auth.attempts == 2
    assert stand_in.attempts == [(-1, 1), (-1, 2), (0, 1)]


async def test_a_worker_that_never_answers_costs_one_session_and_leaves_the_capacity(
    own_server: WorkflowEnvironment,
) -> None:
    stand_in = StandInWorker(dead_sessions=frozenset({1}))
    async with service(own_server, stand_in) as queue:
        handle = await start(own_server, queue, a_test(), session_lost_timeout_s=1)
        await finished(own_server, handle, tick=None)  # the live session heartbeats
    result = stand_in.result
    assert result.state == RunState.COMPLETED
    assert [a.worker_id for a in result.session_attempts] == ["dead-worker", "stand-in"]
    assert "worker dead-worker stopped answering" in (result.session_attempts[0].lost_reason or "")
    assert stand_in.forgotten == ["dead-worker"]
    assert [r.session_attempt for r in stand_in.opened] == [1, 2]


async def test_sessions_lost_every_time_fail_the_run_after_its_session_attempts(
    own_server: WorkflowEnvironment,
) -> None:
    stand_in = StandInWorker(dead_sessions=frozenset({1, 2}))
    options = {"session_lost_timeout_s": 1, "max_session_attempts": 2}
    async with service(own_server, stand_in) as queue:
        handle = await start(own_server, queue, a_test(), **options)
        await finished(own_server, handle, tick=None)  # the live session heartbeats
    result = stand_in.result
    assert result.state == RunState.FAILED and result.error_type == errors.SESSIONS_EXHAUSTED
    assert stand_in.attempts == [], "no step ran on a dead worker"


async def test_cancel_during_a_retry_wait_ends_the_run_and_reaches_teardown(
    own_server: WorkflowEnvironment,
) -> None:
    """On a server of its own: the cancelled session's activity may still count as running
    there (it reports its cancel after the run has ended), which holds that server's clock."""
    stand_in = StandInWorker(failing={(1, 1): step_error("not yet")})
    retry = {"initial_interval_s": 300}
    async with service(own_server, stand_in) as queue:
        handle = await start(own_server, queue, a_test(retry=retry))
        await poll(stand_in.attempts_so_far, lambda a: (1, 1) in a, str, timeout=30)
        await handle.cancel()
        await finished(own_server, handle)
    result = stand_in.result
    assert result.state == RunState.CANCELLED and result.error_type == errors.TEST_CANCELLED
    assert (1, 2) not in stand_in.attempts, "the wait was cut short"
    assert [c.keep_trace for c in stand_in.closed] == [True]


async def test_a_run_over_its_time_limit_times_out_and_keeps_the_trace(
    own_server: WorkflowEnvironment,
) -> None:
    """Retry waits longer than the run may take, skipped: the run's own limit ends it. On a
    server of its own, as the cancel's test, for the same reason."""
    stand_in = StandInWorker(failing={(0, n): step_error("down") for n in range(1, 11)})
    retry = {"max_attempts": 10, "initial_interval_s": 300, "max_interval_s": 900}
    async with service(own_server, stand_in) as queue:
        run = await start(own_server, queue, a_test(timeout_s=500, retry=retry))
        await finished(own_server, run)
    result = stand_in.result
    assert result.state == RunState.TIMED_OUT and result.error == "the run exceeded 500 s"
    assert stand_in.attempts == [(0, 1), (0, 2)], "the second wait was cut short"
    assert [c.keep_trace for c in stand_in.closed] == [True]


async def test_a_queued_run_opens_no_session_before_its_grant(
    time_skipping: WorkflowEnvironment,
) -> None:
    stand_in = StandInWorker()
    async with service(time_skipping, stand_in) as queue:
        handle = await start(time_skipping, queue, a_test(), admission=True)
        await time_skipping.sleep(timedelta(hours=2))
        progress = await handle.query(TestRunWorkflow.progress)
        assert progress.state == RunState.WAITING and stand_in.opened == []
        await handle.signal(TestRunWorkflow.admit)
        await finished(time_skipping, handle)
    assert stand_in.result.state == RunState.COMPLETED


async def test_an_invalid_definition_fails_the_run_without_a_browser(
    time_skipping: WorkflowEnvironment,
) -> None:
    stand_in = StandInWorker()
    async with service(time_skipping, stand_in) as queue:
        await finished(time_skipping, await start(time_skipping, queue, {"name": "no steps"}))
    result = stand_in.result
    assert result.state == RunState.FAILED and result.error_type == errors.INVALID_TEST
    assert stand_in.opened == []
