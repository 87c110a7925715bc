"""Browser activities: open a session, log in, run a step, close the session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities.step_log import SessionStepLog
from browser.actions import StepContext, StepError, failure_screenshot, perform
from browser.console_capture import ConsoleFlood
from browser.egress_proxy import Blocked
from browser.handover import HandoverMissed, SlotHandovers
from browser.pool import BrowserPool, SessionNotFound, trace_before_retry
from core import errors
from core.definition import CREDENTIAL_PLACEHOLDER, START_PAGE_TIMEOUT_MS, Credentials, Step
from core.redaction import redact
from core.run_ids import session_workflow_id
from core.run_result import AttemptFailure, progress_after_steps
from core.secrets import SealedDataInvalid, SecretBox, credential_secrets
from core.variables import fill_secrets, with_secrets
from live.cache import ShortCache, queue_counts_key
from live.events import EventType, RunEvent
from live.publisher import EventPublisher
from workflows.messages import (
    ActionOutcome,
    AuthStepsInput,
    SessionInfo,
    SessionOutcome,
    SessionPulse,
    SessionRequest,
    SessionRunInput,
    SessionWatch,
    StepInProgress,
    StepInput,
    TeardownInput,
    TeardownOutcome,
)
from workflows.session_run import SessionRunWorkflow, session_run_timeout

log = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 1.0


class BrowserActivities:
    """Activities bound to one worker's browser pool and its own task queue."""

    def __init__(
        self,
        pool: BrowserPool,
        handovers: SlotHandovers,
        worker_id: str,
        session_queue: str,
        artifacts_dir: Path,
        uploads_dir: Path,
        secrets: SecretBox,
        run_started: Callable[[str, datetime, str, str | None, int], Awaitable[object]],
        slot_freed: Callable[[str, int], Awaitable[None]],
        events: EventPublisher,
        cache: ShortCache,
    ) -> None:
        self._pool = pool
        self._handovers = handovers
        self._worker_id = worker_id
        self._session_queue = session_queue
        self._artifacts_dir = artifacts_dir
        self._uploads_dir = uploads_dir
        self._secrets = secrets
        self._run_started = run_started
        self._slot_freed = slot_freed
        self._events = events
        self._cache = cache
        self._background: set[asyncio.Task[None]] = set()
        self._step_log = SessionStepLog()
        """Per session, its test steps as they pass or fail an attempt, for the pulses."""
        self._current_steps: dict[str, StepInProgress] = {}
        """Per session with a step attempt under way: that step, for its run's pulses and for
        the teardown that interrupts it."""

    @activity.defn
    async def open_session(self, request: SessionRequest) -> SessionInfo:
        """Setup: a fresh browser context, reachable from now on through this worker's queue."""
        session = await self._pool.open(request.job_id, request.trace, request.lifetime_s)
        self._opened(request, session.session_id)
        return SessionInfo(
            session_id=session.session_id,
            task_queue=self._session_queue,
            worker_id=self._worker_id,
        )

    def _opened(self, request: SessionRequest, session_id: str) -> None:
        """A run's context is open here: said in the log and the live events, and recorded in
        the background (setup does not wait for the database; the final record repairs a
        miss here)."""
        log.info("run %s: session %s opened", request.job_id, session_id)
        self._in_background(self._record_start(request, datetime.now(UTC)))
        self._emit(
            "started",
            request.job_id,
            request.project_id,
            workerId=self._worker_id,
            sessionAttempt=request.session_attempt,
        )

    async def _open_in_slot_of(self, request: SessionRequest, session_id: str) -> None:
        """A successor's context, opened the moment its predecessor's closes (heartbeating
        meanwhile, so that a cancel arrives and a dead worker shows); its run hears of it by
        a signal. HANDOVER_MISSED if the predecessor's context is not here."""
        assert request.after_run is not None
        try:
            async with _heartbeating(), self._handovers.slot_after(request.after_run):
                await self._pool.open(
                    request.job_id, request.trace, request.lifetime_s, session_id=session_id
                )
        except HandoverMissed as missed:
            raise _expected(str(missed), errors.HANDOVER_MISSED) from None
        self._opened(request, session_id)
        run = activity.client().get_workflow_handle(request.job_id)
        self._in_background(_told(run.signal("session_opened", request.session_attempt)))

    async def close(self) -> None:
        """Let the background bookkeeping end (each task logs its own failure): called before
        the database engine it writes through is disposed."""
        await asyncio.gather(*self._background, return_exceptions=True)

    def _in_background(self, work: Awaitable[None]) -> None:
        """Bookkeeping a step or a session need not wait for."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _record_start(self, request: SessionRequest, started_at: datetime) -> None:
        """The run is active here (and its predecessor's slot, if it took one over, free)."""
        job_id = request.job_id
        try:
            await self._run_started(
                job_id, started_at, self._worker_id, request.after_run, request.session_attempt
            )
        except Exception as error:
            log.warning("run %s: could not record its start: %s", job_id, error)
        await self._cache.forget(queue_counts_key(request.project_id))

    async def _free_slot(self, job_id: str, session_attempt: int) -> None:
        """Admit the next run into this slot while the run records its result (if this fails,
        the slot is free when the result is, and the dispatcher's sweep finds it)."""
        try:
            await self._slot_freed(job_id, session_attempt)
        except Exception as error:
            log.warning("run %s: could not free its slot early: %s", job_id, error)

    @activity.defn
    async def run_step(self, input: StepInput) -> ActionOutcome:
        """One attempt of one step."""
        prefix = f"step-{input.index + 1:02d}-attempt-{input.attempt}"
        secrets = self._open_secrets(input.sealed_secrets)
        start_url = fill_secrets(input.start_url, secrets)
        ctx = self._step_context(input, start_url, prefix)
        ctx.viewport = input.viewport
        steps = [with_secrets(input.step, secrets)]
        if input.open_start_url:  # the page load does not eat a short step timeout
            load_ms = max(input.timeout_ms, START_PAGE_TIMEOUT_MS)
            steps.insert(0, Step(action="navigate", value=start_url, timeout_ms=load_ms))
        progress = (
            progress_after_steps(input.index + 1, input.total_steps) if input.total_steps else None
        )
        return await self._reported(
            input,
            input.index,
            input.step.action,
            progress,
            self._attempt(input.session_id, ctx, steps, set(secrets.values())),
        )

    def _open_secrets(self, sealed: list[str]) -> dict[str, str]:
        """The run's secrets, opened only here, in front of the page (later sets win)."""
        try:
            opened = [self._secrets.open(token) for token in sealed]
            return {name: value for secrets in opened for name, value in secrets.items()}
        except SealedDataInvalid as error:
            raise ApplicationError(
                f"the run's secrets: {error}", [], type=errors.VARIABLE_MISSING, non_retryable=True
            ) from None

    @activity.defn
    async def run_auth(self, input: AuthStepsInput) -> ActionOutcome:
        """One attempt of the login: open the login URL, then its steps with the credentials."""
        try:
            credentials = self._secrets.open_credentials(input.auth.sealed_credentials)
        except SealedDataInvalid as error:
            raise ApplicationError(
                str(error), [], type=errors.AUTH_REJECTED, non_retryable=True
            ) from None
        steps = [Step(action="navigate", value=input.auth.login_url)]
        steps += [_with_credentials(step, credentials) for step in input.auth.steps]
        prefix = f"auth-attempt-{input.attempt}"
        ctx = self._step_context(input, input.auth.login_url, prefix)
        login = self._attempt(
            input.session_id, ctx, steps, credential_secrets(credentials), login=True
        )
        return await self._reported(input, -1, "auth", None, login)

    @activity.defn
    async def close_session(self, input: TeardownInput) -> TeardownOutcome:
        """Teardown: close the context; keep its trace if the run did not pass. The close is
        the run's end (`ended_at`), from which the run's slot is free."""
        name = f"trace-attempt-{input.session_attempt}.zip"
        trace_path = self._artifacts_dir / input.job_id / name if input.keep_trace else None
        interrupted = self._current_steps.get(input.session_id)
        self._step_log.forget(input.session_id)
        saved = await self._pool.close(input.session_id, trace_path)
        names = [name] if saved else []
        if trace_path is not None and trace_before_retry(trace_path).exists():
            names.insert(0, trace_before_retry(trace_path).name)
        ended_at = datetime.now(UTC)  # the run's end: its slot is free from now on
        log.info("run %s: session %s closed", input.job_id, input.session_id)
        handed_over = self._handovers.handed_over(input.job_id)  # its successor's start did
        if input.frees_slot and not handed_over:
            self._in_background(self._free_slot(input.job_id, input.session_attempt))
        return TeardownOutcome(artifacts=names, interrupted=interrupted, ended_at=ended_at)

    @activity.defn
    async def run_session(self, input: SessionRunInput) -> SessionOutcome:
        """Start the session's SessionRun workflow on this worker's own queue (its steps are
        local activities here, beside the context) and return its outcome; heartbeat and tell
        the run the step in progress meanwhile (see `_keep_alive`). A successor's context is
        opened first (`input.opening`)."""
        if input.opening is not None:
            try:
                with _quiet_once_its_run_ended(input.job_id, "its wait for a slot"):
                    await self._open_in_slot_of(input.opening, input.session.session_id)
            except SessionNotFound as closed:  # its run closed it first (a cancel)
                raise _expected(str(closed), errors.SESSION_LOST) from None
        session = await activity.client().start_workflow(
            SessionRunWorkflow.run,
            input,
            id=session_workflow_id(input.job_id, input.session_attempt),
            task_queue=self._session_queue,
            execution_timeout=session_run_timeout(input.test.timeout_s),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            request_eager_start=True,  # its first task comes back in the answer, to this worker
        )
        outcome = asyncio.ensure_future(session.result())
        watch = SessionWatch(
            session_id=input.session.session_id,
            job_id=input.job_id,
            session_attempt=input.session_attempt,
        )
        try:
            await self._keep_alive(watch, partial(_done_within, outcome))
            return outcome.result()
        except WorkflowFailureError as error:
            raise ApplicationError(
                f"the session's workflow ended: {error.cause or error}",
                type=errors.SESSION_LOST,
                non_retryable=True,
            ) from None
        finally:
            outcome.cancel()

    async def _keep_alive(
        self, watch: SessionWatch, ended_within: Callable[[float], Awaitable[bool]]
    ) -> None:
        """Heartbeat until `ended_within(seconds)` says the session ended, so that its run
        sees this worker alive; once a second, tell the run the step in progress and the steps
        done so far if they changed (a short session never does)."""
        run = activity.client().get_workflow_handle(watch.job_id)
        told: tuple[StepInProgress, int] | None = None
        with _quiet_once_its_run_ended(watch.job_id, "its session's watch"):
            while True:
                activity.heartbeat()
                if await ended_within(HEARTBEAT_INTERVAL_S):
                    return
                current = self._current_steps.get(watch.session_id)
                now = (current, self._step_log.changes(watch.session_id)) if current else None
                if now is None or now == told:
                    continue
                told = now
                pulse = SessionPulse(
                    session_attempt=watch.session_attempt,
                    index=now[0].index,
                    attempt=now[0].attempt,
                    records=self._step_log.records(watch.session_id),
                )
                await _told(run.signal("session_pulse", pulse))

    async def _reported(
        self,
        input: StepInput | AuthStepsInput,
        index: int,
        action: str,
        progress: int | None,
        attempt: Awaitable[ActionOutcome],
    ) -> ActionOutcome:
        """Await an attempt, publishing its start and its outcome as live events."""
        job, project = input.job_id, input.project_id
        self._current_steps[input.session_id] = StepInProgress(index=index, attempt=input.attempt)
        self._emit("step_started", job, project, index=index, action=action, attempt=input.attempt)
        try:
            outcome = await attempt
        except ApplicationError as error:
            if _closed_under_it(error):  # its run's cancel or timeout: that is the run's event
                log.info(
                    "step %s (%s) attempt %d stopped: its session was closed (%s)",
                    index,
                    action,
                    input.attempt,
                    error.message,
                    extra={"job_id": job},
                )
                raise
            retry_in = input.retry_in_s if not error.non_retryable else None
            if error.category == ApplicationErrorCategory.BENIGN:
                log.info(
                    "step %s (%s) attempt %d failed: %s: %s",
                    index,
                    action,
                    input.attempt,
                    error.type,
                    error.message,
                    extra={"job_id": job},
                )
            self._emit(
                "step_failed",
                job,
                project,
                index=index,
                action=action,
                attempt=input.attempt,
                error=error.message,
                errorType=error.type,
                retryInS=retry_in,
            )
            if index >= 0:
                failure = AttemptFailure(
                    attempt=input.attempt,
                    error=error.message,
                    error_type=error.type or errors.STEP_ERROR,
                    retry_in_s=retry_in,
                )
                self._step_log.failed(input.session_id, index, action, input.attempt, failure)
            if retry_in is not None:
                self._emit(
                    "retrying",
                    job,
                    project,
                    index=index,
                    nextAttempt=input.attempt + 1,
                    inS=retry_in,
                )
            raise
        finally:
            self._current_steps.pop(input.session_id, None)
        if index >= 0:
            self._step_log.passed(input.session_id, index, action, input.attempt, outcome)
        self._emit(
            "step_passed",
            job,
            project,
            index=index,
            action=action,
            attempt=input.attempt,
            durationMs=outcome.duration_ms,
            progress=progress,
        )
        return outcome

    def _emit(self, type: EventType, job_id: str, project_id: int, **data: object) -> None:
        self._events.publish(
            RunEvent(type=type, jobId=job_id, projectId=str(project_id), data=data)
        )

    def _step_context(
        self, input: StepInput | AuthStepsInput, start_url: str, prefix: str
    ) -> StepContext:
        """Where an attempt's artifacts go and where its uploads come from."""
        return StepContext(
            start_url=start_url,
            timeout_ms=input.timeout_ms,
            artifacts_dir=self._artifacts_dir / input.job_id,
            artifact_prefix=prefix,
            uploads_dir=self._uploads_dir / str(input.project_id),
        )

    async def _attempt(
        self,
        session_id: str,
        ctx: StepContext,
        steps: list[Step],
        secrets: set[str],
        login: bool = False,
    ) -> ActionOutcome:
        """Perform steps in the session, heartbeating; failures become typed ApplicationErrors.
        `secrets` are redacted from all the session reports from now on; a login is not
        traced (the trace starts at the first test step)."""
        started = time.monotonic()
        try:
            async with self._pool.using(session_id) as session, _heartbeating():
                selector, artifacts = None, []
                failure: StepError | None = None
                session.redactions |= secrets
                if not login:
                    await self._pool.trace_from_now(session)
                ctx.redactions = session.redactions
                if ctx.viewport is not None:
                    await session.page.set_viewport_size(ctx.viewport.model_dump())
                try:
                    for step in steps:
                        step_done = perform(session.page, step, ctx)
                        result = await self._pool.while_open(session, step_done)
                        selector = result.selector_used and redact(
                            result.selector_used, session.redactions
                        )
                        artifacts += result.artifacts
                except StepError as error:
                    failure = error
                except SessionNotFound as gone:  # closed by the run's teardown, or crashed
                    failure = StepError(str(gone), errors.SESSION_LOST, False)
                except ConsoleFlood as flood:  # no retry: the same page floods again
                    failure = StepError(str(flood), errors.CONSOLE_FLOOD, False)
                failure = _egress_failure(session.new_blocks()) or failure
                if failure is not None and failure.retryable and not login:
                    await self._pool.snapshots_from_now(session)
                if failure is not None:
                    if failure.error_type != errors.SESSION_LOST:
                        artifacts += await failure_screenshot(session.page, ctx)
                    expected = failure.error_type != errors.SESSION_LOST or (
                        session.closed_on_purpose
                    )
                    raise _application_error(
                        failure, artifacts, session.redactions, expected
                    ) from None
        except SessionNotFound as missing:
            raise ApplicationError(
                str(missing), [], type=errors.SESSION_LOST, non_retryable=True
            ) from None
        return ActionOutcome(
            duration_ms=int((time.monotonic() - started) * 1000),
            selector_used=selector,
            artifacts=artifacts,
        )


def _closed_under_it(error: ApplicationError) -> bool:
    """A step cut short because its run's teardown closed the session on purpose."""
    return error.type == errors.SESSION_LOST and error.category == ApplicationErrorCategory.BENIGN


def _expected(message: str, error_type: str) -> ApplicationError:
    """A session activity's end that is no fault (no retry, and the SDK logs it at DEBUG
    without a traceback)."""
    return ApplicationError(
        message, type=error_type, non_retryable=True, category=ApplicationErrorCategory.BENIGN
    )


@contextlib.contextmanager
def _quiet_once_its_run_ended(job_id: str, what: str) -> Iterator[None]:
    """A session activity cancelled because its run ended (see `_run_ended`) stops with one
    INFO line and a benign failure; a cancel its run asked for stays a cancel."""
    try:
        yield
    except asyncio.CancelledError:
        if not _run_ended():
            raise
        log.info("run %s: the run has ended, so %s stops", job_id, what, extra={"job_id": job_id})
        raise _expected("the run no longer waits for this session", errors.SESSION_LOST) from None


def _run_ended() -> bool:
    """Whether a cancelled session watch was cancelled because its run ended (completed,
    cancelled or timed out) and Temporal no longer knows the activity. Nobody waits for it
    then: the SDK would log that cancel, which it did not ask for, as a WARNING with a
    traceback, so the watch ends with one INFO line and a benign failure instead."""
    details = activity.cancellation_details()
    return details is not None and details.not_found


async def _told(signal: Awaitable[None]) -> None:
    """Deliver a signal to a run that may have ended meanwhile (then nobody needs it: a pulse,
    a session opened)."""
    try:
        await signal
    except Exception as error:
        log.debug("signal not delivered: %s", error)


async def _done_within(task: asyncio.Future[Any], timeout_s: float) -> bool:
    """Wait up to timeout_s for the task; whether it is done."""
    await asyncio.wait([task], timeout=timeout_s)
    return task.done()


def _egress_failure(blocked: tuple[Blocked | None, int]) -> StepError | None:
    """A destination the egress policy refused during the step fails it; no retry helps."""
    first, count = blocked
    if first is None:
        return None
    more = f" (and {count - 1} more)" if count > 1 else ""
    return StepError(first.message + more, errors.EGRESS_BLOCKED, False)


def _with_credentials(step: Step, credentials: Credentials) -> Step:
    """The step with {{username}} and {{password}} replaced, for use inside the browser only."""
    if not step.value:
        return step
    value = CREDENTIAL_PLACEHOLDER.sub(lambda m: getattr(credentials, m.group(1)), step.value)
    return step.model_copy(update={"value": value})


def _application_error(
    error: StepError, artifacts: list[str], redactions: set[str], expected: bool
) -> ApplicationError:
    """The step's failure for Temporal: bounded, and without any secret the session holds (a
    page may show the login's credentials in any later step's error). An `expected` failure
    (the page's doing, or a step cut short by a cancel's teardown) is benign: the SDK logs it
    at DEBUG without a traceback, and `_reported` logs one INFO line for it."""
    message = errors.cut(redact(str(error), redactions), errors.MESSAGE_LIMIT)
    return ApplicationError(
        message,
        artifacts,
        type=error.error_type,
        non_retryable=not error.retryable,
        category=(
            ApplicationErrorCategory.BENIGN if expected else ApplicationErrorCategory.UNSPECIFIED
        ),
    )


@contextlib.asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat while the body runs, so a dead worker is noticed and a cancel arrives quickly.

    A local activity has no heartbeat of its own: its workflow's run watches the worker."""
    if activity.info().is_local:
        yield
        return

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
