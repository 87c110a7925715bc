"""A worker process: one Chromium, its session slots, and the Temporal workers that use them."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from functools import partial

from temporalio.client import Client
from temporalio.worker import FixedSizeSlotSupplier, Worker, WorkerTuner

from activities.browser import BrowserActivities
from activities.schedules import ScheduleActivities
from activities.store import StoreActivities
from activities.webhooks import WebhookActivities
from browser.handover import SlotHandovers
from browser.pool import BrowserPool
from core.config import Settings
from core.logs import JobLogContext
from core.process_names import process_name
from core.queues import (
    SESSION_TASK_QUEUE,
    WEBHOOK_TASK_QUEUE,
    WORKFLOW_TASK_QUEUE,
    worker_session_queue,
)
from core.search_attributes import ensure_registered
from core.secrets import load_secret_box
from live.bell import DispatchBell, connect_bell
from live.cache import ShortCache
from live.publisher import EventPublisher
from live.redis_link import connect_redis
from notify.emitter import Notifier
from runner.contact import ContactWatch
from runner.metrics import WorkerMetrics
from runner.slots import SessionSlotSupplier
from store.db import create_engine
from store.retention import Retention
from store.runs import RunStore
from store.webhooks import WebhookStore
from store.workers import HEARTBEAT_S, WorkerRegistry, gone_here
from workflows.scheduled_fire import ScheduledFireWorkflow
from workflows.session_run import SessionRunWorkflow
from workflows.test_run import TestRunWorkflow
from workflows.webhook_delivery import WebhookDeliveryWorkflow

log = logging.getLogger(__name__)

STICKY_FOR = timedelta(seconds=2)
"""A run's next workflow task waits this long for the worker that ran its last one (which has
the run cached) before any worker takes it: a dead worker delays its runs' workflows no more."""


async def start_run(
    runs: RunStore,
    bell: DispatchBell,
    metrics: WorkerMetrics,
    job_id: str,
    started_at: datetime,
    worker_id: str,
    took_over: str | None,
    session_attempt: int,
) -> None:
    """A run's context opened here (in run `took_over`'s slot, if given): the run is active,
    and the dispatcher may choose the run to take its slot after it (dispatch.successors).
    Refused if a later session attempt of the run started (this worker was cut off)."""
    if await runs.mark_started(job_id, started_at, worker_id, took_over, session_attempt):
        bell.ring()
    elif await runs.later_attempt_started(job_id, session_attempt):
        _refused_as_late(metrics, "start", job_id, session_attempt)


async def free_slot(
    runs: RunStore, bell: DispatchBell, metrics: WorkerMetrics, job_id: str, session_attempt: int
) -> None:
    """A run's context closed: its slot leaves the occupied count, and the dispatcher hears.
    Refused if a later session attempt of the run started (its slot is that one's now)."""
    if await runs.free_slot(job_id, session_attempt):
        bell.ring()
    elif await runs.later_attempt_started(job_id, session_attempt):
        _refused_as_late(metrics, "slot freed", job_id, session_attempt)


def _refused_as_late(metrics: WorkerMetrics, what: str, job_id: str, session_attempt: int) -> None:
    """A write for a session attempt the run has left behind: counted and said, not stored."""
    metrics.late_write()
    log.warning(
        "run %s: %s of session attempt %d refused: a later attempt started elsewhere",
        job_id,
        what,
        session_attempt,
        extra={"job_id": job_id},
    )


WEBHOOK_ATTEMPTS_AT_ONCE = 20
"""Webhook deliveries one worker attempts at once (each bounded by WEBHOOK_TIMEOUT_S)."""


def new_worker_id() -> str:
    """Unique per process, so a restarted worker never inherits a dead one's sessions."""
    return process_name("worker")


class WorkerHost:
    """Builds, runs and drains the three Temporal workers of one process.

    - the workflow worker runs TestRun workflows and their database activities;
    - the session worker polls the shared session queue, only while a slot is free;
    - the affinity worker serves this process's own queue, where its contexts live: the
      SessionRun workflows of its sessions, their steps (local activities), the activity that
      runs each session (`run_session`, which opens a successor's context first, in its
      predecessor's slot) and close.
    """

    def __init__(self, client: Client, settings: Settings, worker_id: str | None = None) -> None:
        self.settings = settings
        self._client = client
        self.worker_id = worker_id or new_worker_id()
        self.session_queue = worker_session_queue(self.worker_id)
        self.pool = BrowserPool(
            settings.chromium_path,
            owner=self.worker_id,
            egress=settings.egress_policy,
            driver_limit_mib=settings.driver_recycle_mib,
        )
        self.engine = create_engine(settings.database_url)
        runs = RunStore(self.engine)
        self.metrics = WorkerMetrics(
            self.worker_id, settings.worker_max_sessions, lambda: self.pool.open_count
        )
        self.events = EventPublisher(connect_redis(settings), listeners=[self.metrics.observe])
        self.cache = ShortCache(connect_redis(settings))
        self.handovers = SlotHandovers(self.pool)
        self.slots = SessionSlotSupplier(self.pool, self.handovers, settings.worker_max_sessions)
        self.bell = connect_bell(settings)
        self.browser = BrowserActivities(
            pool=self.pool,
            handovers=self.handovers,
            worker_id=self.worker_id,
            session_queue=self.session_queue,
            artifacts_dir=settings.artifacts_dir,
            uploads_dir=settings.uploads_dir,
            secrets=load_secret_box(settings),
            run_started=partial(start_run, runs, self.bell, self.metrics),
            slot_freed=partial(free_slot, runs, self.bell, self.metrics),
            events=self.events,
            cache=self.cache,
        )
        retention = Retention(self.engine, settings.artifacts_dir)
        self.registry = WorkerRegistry(self.engine)
        webhooks = WebhookStore(self.engine)
        self.notifier = Notifier(webhooks, client, settings)
        self.store = StoreActivities(
            runs,
            retention,
            self.events,
            self.cache,
            self.bell,
            self.registry,
            notify=self.notifier.run_finished,
        )
        self.webhooks = WebhookActivities(
            webhooks,
            load_secret_box(settings),
            settings.egress_policy,
            settings.webhook_connect_timeout_s,
            count=self.metrics.delivery,
        )
        self.schedules = ScheduleActivities(
            self.engine, client, self.events, settings.default_limits, self.bell.ring
        )
        identity = f"{self.worker_id}"
        self._workflow_worker = Worker(
            client,
            task_queue=WORKFLOW_TASK_QUEUE,
            workflows=[TestRunWorkflow, ScheduledFireWorkflow, WebhookDeliveryWorkflow],
            activities=[
                self.store.record_finished,
                self.store.forget_worker,
                self.store.queue_again,
                self.schedules.queue_scheduled_runs,
                self.schedules.unfinished_runs,
                self.schedules.cancel_runs,
            ],
            identity=identity,
            interceptors=[JobLogContext()],
            sticky_queue_schedule_to_start_timeout=STICKY_FOR,
        )
        self._session_worker = Worker(
            client,
            task_queue=SESSION_TASK_QUEUE,
            activities=[self.browser.open_session],
            tuner=WorkerTuner.create_composite(
                workflow_supplier=FixedSizeSlotSupplier(2),
                activity_supplier=self.slots,
                local_activity_supplier=FixedSizeSlotSupplier(1),
                nexus_supplier=FixedSizeSlotSupplier(1),
            ),
            identity=identity,
            interceptors=[JobLogContext()],
        )
        self._affinity_worker = Worker(
            client,
            task_queue=self.session_queue,
            workflows=[SessionRunWorkflow],
            activities=[
                self.browser.run_step,
                self.browser.run_auth,
                self.browser.close_session,
                self.browser.run_session,
            ],
            max_concurrent_activities=settings.worker_max_sessions * 4 + 4,
            max_heartbeat_throttle_interval=timedelta(seconds=1),
            default_heartbeat_throttle_interval=timedelta(seconds=1),
            identity=identity,
            interceptors=[JobLogContext()],
        )
        self._webhook_worker = Worker(
            client,
            task_queue=WEBHOOK_TASK_QUEUE,
            activities=[self.webhooks.deliver_webhook],
            max_concurrent_activities=WEBHOOK_ATTEMPTS_AT_ONCE,
            identity=identity,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._heartbeat: asyncio.Task[None] | None = None
        self.contact = ContactWatch(client, self.pool)
        self._contact: asyncio.Task[None] | None = None

    async def _announce(self) -> None:
        """Tell the dispatcher, every few seconds, that this worker's sessions are available."""
        joined = False
        while True:
            try:
                await self.registry.beat(
                    self.worker_id, self.settings.worker_max_sessions, self.pool.open_count
                )
                if not joined:  # new slots: the dispatcher grants them at once
                    joined = True
                    await self._replace_gone_workers()
                    self.bell.ring()
            except Exception as error:  # the database is away: the dispatcher waits for us
                log.warning("worker heartbeat failed: %s", error)
            await asyncio.sleep(HEARTBEAT_S)

    async def _replace_gone_workers(self) -> None:
        """Forget the lost workers of this machine whose process is gone: this one (started by
        the same supervisor) takes their place, so /health need not report them any more."""
        for worker in gone_here((await self.registry.census()).lost):
            await self.registry.remove(worker.worker_id)

    async def _withdraw(self) -> None:
        """Stop announcing: the dispatcher grants this worker's slots no more."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
            try:
                await self.registry.remove(self.worker_id)
            except Exception as error:
                log.warning("could not withdraw worker %s: %s", self.worker_id, error)

    async def start(self) -> None:
        """Register the search attributes if missing, launch Chromium, then start polling."""
        await ensure_registered(self._client)
        if self.settings.worker_metrics_port:
            try:
                self.metrics.serve(
                    self.settings.worker_metrics_port, self.settings.worker_metrics_host
                )
            except OSError as error:
                log.warning(
                    "metrics not served on %d: %s", self.settings.worker_metrics_port, error
                )
        await self.pool.start()
        for worker in (
            self._affinity_worker,
            self._workflow_worker,
            self._session_worker,
            self._webhook_worker,
        ):
            self._tasks.append(asyncio.create_task(worker.run()))
        self._heartbeat = asyncio.create_task(self._announce())
        self._contact = asyncio.create_task(self.contact.run())
        log.info(
            "worker %s ready: %d sessions, queue %s",
            self.worker_id,
            self.settings.worker_max_sessions,
            self.session_queue,
        )

    async def drain(self, timeout_s: float | None = None) -> None:
        """Stop taking runs, let running ones finish (up to timeout_s), then stop everything.

        Runs still open after the timeout lose their session and start again elsewhere.
        """
        timeout = self.settings.drain_timeout_s if timeout_s is None else timeout_s
        await self._withdraw()
        self.slots.drain()
        self.handovers.stop()
        await self._session_worker.shutdown()
        log.info("draining %d open sessions (up to %.0f s)", self.pool.open_count, timeout)
        deadline = asyncio.get_running_loop().time() + timeout
        while self.pool.open_count and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.2)
        await self.stop()

    async def stop(self) -> None:
        """Stop at once: close every context and the browser, stop all workers."""
        if self._contact is not None:
            self._contact.cancel()
        await self._withdraw()
        self.slots.drain()
        self.handovers.stop()
        await self.pool.stop()
        for worker in (
            self._session_worker,
            self._affinity_worker,
            self._workflow_worker,
            self._webhook_worker,
        ):
            if worker.is_running:
                await worker.shutdown()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.browser.close()
        await self.store.close()
        await self.schedules.close()
        await self.events.close()
        await self.cache.close()
        await self.bell.close()
        await self.engine.dispose()
