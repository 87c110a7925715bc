"""The dispatcher: admits queued runs into free session slots and starts their workflows.

Queueing only writes a row; this loop does the rest, so that queueing never waits on Temporal.
Two jobs, in one process at a time (a lease in the database picks it):
- admission: while the live workers have free slots, grant them to queued runs in the order
  of `dispatch.fairness.choose`, within each project's max_parallel, skipping paused projects;
  the grant is a signal-with-start, so the run's workflow need not exist yet; with every slot
  busy, each running run gets its successor ahead of time (dispatch.successors);
- materialising: start the workflow of every waiting run, so that a waiting run is visible to
  (and cancellable from) `temporal workflow` and the Web UI; its workflow waits for the grant.
Both are idempotent on the job ID, so a restart half-way starts and grants each run once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import Priority, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.process_names import gone_from_here, process_name
from core.queues import WORKFLOW_TASK_QUEUE
from core.run_state import RunState
from core.search_attributes import run_attributes, trigger_of
from core.temporal_link import TemporalLink
from dispatch.dead_workers import gone_workers, let_go
from dispatch.fairness import choose
from dispatch.positions import PositionNotifier
from dispatch.successors import extra_room, pair
from live.bell import DispatchBell
from live.publisher import EventPublisher
from store.admission import AdmissionStore
from store.models import Run, utcnow
from store.workers import WorkerRegistry
from workflows.messages import RunInput, SlotHandover
from workflows.test_run import TASK_TIMEOUT, TestRunWorkflow

log = logging.getLogger(__name__)
BATCH = 200
CONCURRENCY = 16
SWEEP_S = 2.0
"""Without a ring, admission and materialising look again after this long (a ring lost while
Redis was away, a lease to take over, a worker that came back)."""
MIN_PASS_GAP_S = 0.05
"""Admission passes are at least this far apart, however many rings a burst brings."""
RETRY_S = 0.2
"""After a pass that failed (or could not send a grant), the next comes this soon, ring or
not; a pass that sent its grants waits for the next ring (a run ending frees its slot and
rings)."""
QUIET_S = 0.5
"""Waiting workflows are started once queueing has been quiet this long: queueing comes first."""
LEASE_S = 10.0
RENEWED_WITHIN_S = LEASE_S / 3 + SWEEP_S + 2.0
"""A leading dispatcher renews its lease at least this often (one renewal every third of the
lease, at a pass, passes at least every sweep, plus slack for a busy machine)."""
RECONCILE_EVERY_S = 30.0
CLOSED_STATES = {
    WorkflowExecutionStatus.COMPLETED: RunState.COMPLETED,
    WorkflowExecutionStatus.FAILED: RunState.FAILED,
    WorkflowExecutionStatus.CANCELED: RunState.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: RunState.CANCELLED,
    WorkflowExecutionStatus.TIMED_OUT: RunState.TIMED_OUT,
}
"""The stored state of a run whose workflow closed without recording its result."""


def silent_for(lease_until: datetime) -> float:
    """Seconds since the dispatcher last renewed a lease running out at `lease_until`."""
    return (utcnow() - (lease_until - timedelta(seconds=LEASE_S))).total_seconds()


class Dispatcher:
    """Admits queued runs and starts the workflows of waiting ones."""

    def __init__(
        self,
        admission: AdmissionStore,
        workers: WorkerRegistry,
        temporal: TemporalLink,
        positions: PositionNotifier,
        bell: DispatchBell | None = None,
        max_slot_share: float = 0.5,
    ) -> None:
        self._admission = admission
        self._max_slot_share = max_slot_share
        self._positions = positions
        self._workers = workers
        self._temporal = temporal
        self._identity = process_name("dispatcher")
        self._bell = bell or DispatchBell(None)
        self._queued = asyncio.Event()
        self._admission_wanted = asyncio.Event()
        self._last_queued = 0.0
        self._leading = False
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    def build(
        cls,
        engine: AsyncEngine,
        temporal: TemporalLink,
        events: EventPublisher | None = None,
        bell: DispatchBell | None = None,
        max_slot_share: float = 0.5,
    ) -> Dispatcher:
        """A dispatcher on this database (publishing position events if given a publisher,
        ringing and hearing the other processes through the bell if given one; no project
        holds more than `max_slot_share` of the slots while another has runs waiting)."""
        admission = AdmissionStore(engine)
        notifier = PositionNotifier(admission, events or EventPublisher(None))
        workers = WorkerRegistry(engine)
        return cls(admission, workers, temporal, notifier, bell, max_slot_share)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._admission_loop()),
            asyncio.create_task(self._materialise_loop()),
            asyncio.create_task(self._bell.listen(self._heard)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._bell.close()
        if self._leading:
            with contextlib.suppress(Exception):
                await self._admission.resign(self._identity)

    def wake(self) -> None:
        """Runs were queued or cancelled, a queue resumed or a limit changed: admit now, here
        and in whichever process leads (the bell)."""
        self._heard()
        self._bell.ring()

    def _heard(self) -> None:
        self._last_queued = asyncio.get_running_loop().time()
        self._queued.set()
        self._admission_wanted.set()

    async def _until_quiet(self) -> None:
        """Wait until no run has been queued for QUIET_S."""
        while (wait := self._last_queued + QUIET_S - asyncio.get_running_loop().time()) > 0:
            await asyncio.sleep(wait)

    async def _admission_loop(self) -> None:
        """One pass per ring (or per sweep): renew the lease, admit, publish positions."""
        renewed = reconciled = 0.0
        loop = asyncio.get_running_loop()
        while True:
            self._admission_wanted.clear()
            next_pass = SWEEP_S
            try:
                now = loop.time()
                if now - renewed > LEASE_S / 3:
                    self._note_leading(await self.lead())
                    renewed = now
                if self._leading:
                    await self.let_go_of_gone_workers()
                    if await self.admit_once():
                        next_pass = RETRY_S  # grants not sent: try them again soon
                    await self._positions.notify_once()
                    if now - reconciled > RECONCILE_EVERY_S:
                        reconciled = now
                        await self.reconcile_once()
            except Exception as error:  # Temporal or the database is away: try again later
                log.warning("admitting queued runs failed: %s", error)
                next_pass = RETRY_S
            await asyncio.sleep(MIN_PASS_GAP_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._admission_wanted.wait(), next_pass)

    async def let_go_of_gone_workers(self) -> None:
        """Workers of this machine whose process ended leave the capacity, and their runs open
        sessions elsewhere, now (dispatch.dead_workers)."""
        gone = await gone_workers(self._workers)
        if gone:
            client = await self._temporal.client()
            occupants = await self._admission.admitted_runs()
            for worker_id in gone:
                successors = await self._admission.successors_on(worker_id)
                await let_go(
                    self._workers, client, worker_id, [r.job_id for r in occupants], successors
                )

    def _note_leading(self, leading: bool) -> None:
        """Whether this dispatcher leads now; a change is said in the log."""
        if leading != self._leading:
            log.info("dispatcher %s %s", self._identity, "leads" if leading else "no longer leads")
        self._leading = leading

    async def lead(self) -> bool:
        """Take or renew the lease; take it at once from a holder of this machine that died."""
        if await self._admission.lead(self._identity, LEASE_S):
            return True
        lease = await self._admission.lease()
        if lease is None or not gone_from_here(lease.holder):
            return False
        log.info("the dispatcher %s is gone: taking over its lease", lease.holder)
        return await self._admission.lead(self._identity, LEASE_S, gone=lease.holder)

    async def _materialise_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queued.wait(), SWEEP_S)
            self._queued.clear()
            if not self._leading:
                continue
            try:
                await self._until_quiet()
                while await self.start_workflows_once() == BATCH:
                    await self._until_quiet()
            except Exception as error:
                log.warning("starting workflows of queued runs failed: %s", error)

    async def admit_once(self) -> int:
        """Grant free slots to queued runs and send every grant not yet sent; how many could
        not be sent (they are sent again on the next pass)."""
        await self.grant_once()
        unsent = await self._admission.unsent()
        if not unsent:
            return 0
        client = await self._temporal.client()
        holders = await self._admission.holders(
            [run.successor_of for run in unsent if run.successor_of is not None]
        )
        outcomes = await asyncio.gather(
            *(
                self._send_admission(client, run, _handover(holders.get(run.successor_of or 0)))
                for run in unsent
            ),
            return_exceptions=True,
        )
        failed = 0
        for run, outcome in zip(unsent, outcomes, strict=True):
            if isinstance(outcome, Exception):
                failed += 1
                log.warning(
                    "could not admit %s: %s", run.job_id, outcome, extra={"job_id": run.job_id}
                )
        return failed

    async def grant_once(self) -> list[Run]:
        """The admission policy, in the database alone: free capacity (live workers' slots
        less those held) granted to the heads of the unpaused projects' queues, within each
        project's max_parallel, in fairness order; then a successor for each busy slot that
        has none. The runs granted (not yet told).

        Reads that do not depend on each other go together (a refill waits for this pass)."""
        capacity, occupied = await asyncio.gather(
            self._workers.capacity(), self._admission.occupied()
        )
        share_cap = self.share_cap(capacity)
        granted = await self._grant(capacity - occupied, share_cap)
        if occupied > capacity:  # a worker was lost: its runs, opening sessions anew, go first
            await self._release_successors(occupied - capacity)
            return granted
        await self._release_successors(capacity - occupied - len(granted))
        return granted + await self._grant_successors(share_cap)

    def share_cap(self, capacity: int) -> int:
        """The most slots one project holds while another has runs waiting (at least 1)."""
        return max(1, int(capacity * self._max_slot_share))

    async def _grant(
        self, free: int, share_cap: int, holders: list[Run] | None = None
    ) -> list[Run]:
        """Up to `free` queued runs admitted in fairness order; into the slots of `holders`
        as their successors if given."""
        if free <= 0:
            return []
        extra = extra_room(holders) if holders else None
        rooms = await self._admission.rooms(extra, share_cap)
        queues = await asyncio.gather(
            *(self._admission.heads(room.project_id, min(free, room.room)) for room in rooms)
        )
        heads = {room.project_id: queue for room, queue in zip(rooms, queues, strict=True)}
        chosen = choose(rooms, heads, free)
        successors = pair(chosen, holders) if holders else None
        return await self._admission.admit(chosen, successors, leader=self._identity)

    async def _release_successors(self, free: int) -> None:
        """Slots left free (a limit raised, a worker joined, a run lost): successors still
        waiting for a busy slot take them instead (their run hears it by a signal). With more
        slots held than the live workers have (a worker lost, its runs opening sessions
        anew), that many successors give up the slots promised to them: those slots go to
        whoever waits longest for one, the lost runs first."""
        if free <= 0:
            return
        released = await self._admission.releasable(free)
        if not released:
            return
        await self._admission.release([run.id for run in released if run.id is not None])
        told = [run for run in released if run.admission_sent]  # else its grant names no slot
        if told:
            client = await self._temporal.client()
            for run in told:
                with contextlib.suppress(RPCError):  # it ended meanwhile
                    await client.get_workflow_handle(run.job_id).signal("release")

    async def _grant_successors(self, share_cap: int) -> list[Run]:
        """A successor for each run holding a slot without one (dispatch.successors)."""
        holders = await self._admission.without_successor(BATCH)
        return await self._grant(len(holders), share_cap, holders)

    async def _send_admission(
        self, client: Client, run: Run, handover: SlotHandover | None
    ) -> None:
        """Signal-with-start: the grant (with the slot to take over, for a successor) reaches
        the workflow whether it runs already or not."""
        assert run.id is not None
        try:
            await self._start(client, run, start_signal="admit", handover=handover)
        except WorkflowAlreadyStartedError:  # it ended already (e.g. terminated from the CLI)
            await self._settle_if_closed(client, run)
            return
        if not await self._admission.mark_sent(run.id):  # cancelled while being admitted
            with contextlib.suppress(Exception):
                await client.get_workflow_handle(run.job_id).cancel()

    async def reconcile_once(self, older_than_s: float = RECONCILE_EVERY_S) -> int:
        """Free the slots of runs whose workflow closed without recording its result
        (`temporal workflow terminate` skips the workflow's own clean-up); how many."""
        since = utcnow() - timedelta(seconds=older_than_s)
        client = await self._temporal.client()
        settled = 0
        for run in await self._admission.admitted_runs(since):
            settled += await self._settle_if_closed(client, run)
        return settled

    async def _settle_if_closed(self, client: Client, run: Run) -> bool:
        assert run.id is not None
        try:
            status = (await client.get_workflow_handle(run.job_id).describe()).status
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND or not run.admission_sent:
                return False
            return await self._admission.settle(
                run.id, RunState.FAILED, "the run's workflow is gone"
            )
        state = CLOSED_STATES.get(status) if status is not None else None
        if state is None or status is None:
            return False
        return await self._admission.settle(
            run.id,
            state,
            f"the run's workflow was {status.name.lower()} before it recorded a result",
        )

    async def start_workflows_once(self) -> int:
        """Start the workflows of up to BATCH waiting runs, head of the queues first; how many
        started (fewer than BATCH ends the pass: the rest is tried again later)."""
        pending = await self._admission.unstarted(BATCH)
        if not pending:
            return 0
        client = await self._temporal.client()
        limit = asyncio.Semaphore(CONCURRENCY)
        outcomes = await asyncio.gather(
            *(self._materialise(client, run, limit) for run in pending), return_exceptions=True
        )
        for run, outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, Exception):  # this run is tried again on the next pass
                log.warning(
                    "could not start the workflow of %s: %s",
                    run.job_id,
                    outcome,
                    extra={"job_id": run.job_id},
                )
        started = [run for run, outcome in zip(pending, outcomes, strict=True) if outcome is None]
        started_ids = [run.id for run in started if run.id is not None]
        cancelled = await self._admission.mark_workflows_started(started_ids)
        for run in started:
            if run.id in cancelled:
                with contextlib.suppress(Exception):
                    await client.get_workflow_handle(run.job_id).cancel()
        return len(started)

    async def _materialise(self, client: Client, run: Run, limit: asyncio.Semaphore) -> None:
        async with limit:
            with contextlib.suppress(WorkflowAlreadyStartedError):  # started before: fine
                await self._start(client, run)

    @staticmethod
    async def _start(
        client: Client,
        run: Run,
        start_signal: str | None = None,
        handover: SlotHandover | None = None,
    ) -> None:
        await client.start_workflow(
            TestRunWorkflow.run,
            RunInput.model_validate(run.run_input),
            id=run.job_id,
            task_queue=WORKFLOW_TASK_QUEUE,
            task_timeout=TASK_TIMEOUT,
            priority=Priority(priority_key=run.priority_key),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal=start_signal,
            start_signal_args=[handover] if handover is not None else [],
            search_attributes=run_attributes(
                run.project_id,
                run.test_id,
                run.suite_id,
                run.priority,
                trigger_of(run.suite_id, run.retry_of, run.priority),
            ),
        )


def _handover(holder: Run | None) -> SlotHandover | None:
    """Where a successor waits for its slot: its predecessor's worker (None: not a successor,
    or its predecessor no longer holds a context anywhere)."""
    if holder is None or holder.worker_id is None:
        return None
    return SlotHandover(after_run=holder.job_id, worker_id=holder.worker_id)
