"""Events become deliveries: for each enabled webhook of the project that wants the event
(its type and rules), within the project's deliveries per minute, a WebhookDelivery workflow
whose ID is the delivery's, so that telling of the same event twice delivers it once."""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.config import Settings
from core.queues import WORKFLOW_TASK_QUEUE
from core.run_state import RunState
from notify.events import WebhookEvent, run_finished, schedule_turned, suite_run_finished
from notify.rules import WebhookRules
from store.models import Run, Webhook, WebhookDelivery
from store.webhooks import QUEUED, RATE_LIMITED, WebhookStore, minute_ago
from workflows.messages import NO_PROJECT, WebhookDeliveryInput
from workflows.webhook_delivery import WebhookDeliveryWorkflow

log = logging.getLogger(__name__)


def delivery_workflow_id(delivery_id: str) -> str:
    return f"webhook-{delivery_id}"


class Notifier:
    """Starts the deliveries of a project's events."""

    def __init__(self, store: WebhookStore, client: Client, settings: Settings) -> None:
        self._store = store
        self._client = client
        self._settings = settings

    async def run_finished(self, job_id: str, project_id: int) -> int:
        """Deliver what the end of this run makes happen: `run.finished`, a schedule that
        failed or recovered, a suite run that ended. How many deliveries started (a project
        without webhooks costs one indexed read)."""
        if project_id == NO_PROJECT:
            return 0
        webhooks = await self._store.listening(project_id)
        if not webhooks:
            return 0
        run = await self._store.finished_run(job_id)
        if run is None:
            return 0
        started = 0
        for event in await self._events_of(run):
            for webhook in webhooks:
                if event.type in webhook.events and WebhookRules(**webhook.rules).admit(
                    event.facts
                ):
                    started += await self.send(webhook, event)
        return started

    async def _events_of(self, run: Run) -> list[WebhookEvent]:
        base = self._settings.public_origin
        events = [run_finished(run, base)]
        if run.schedule_id is not None:
            before = await self._store.previous_fire_run(run)
            passed = run.state == RunState.COMPLETED
            if before is not None and (before.state == RunState.COMPLETED) != passed:
                events.append(schedule_turned(run, base))
        suite_runs = await self._store.ended_suite_run(run)
        if suite_runs:
            events.append(suite_run_finished(suite_runs, base))
        return events

    async def send(self, webhook: Webhook, event: WebhookEvent, delivery_id: str = "") -> int:
        """Start the delivery of `event` to `webhook` (1), unless the project has started its
        deliveries per minute already (0: logged as rate limited) or it started already."""
        delivery_id = delivery_id or f"{event.id}-{webhook.id}"
        document = event.document()
        row = WebhookDelivery(
            webhook_id=webhook.id,
            project_id=webhook.project_id,
            delivery_id=delivery_id,
            event_id=event.id,
            event_type=event.type,
            attempt=0,
            outcome=QUEUED,
            document=document,
        )
        overrides = await self._store.limit_overrides(webhook.project_id)
        limit = self._settings.limits_for(overrides).max_deliveries_per_minute
        if await self._store.started_since(webhook.project_id, minute_ago()) >= limit:
            row.outcome, row.error = RATE_LIMITED, f"over {limit} deliveries a minute: not sent"
            await self._store.log(row)
            log.warning("webhook %s: %s dropped (rate limited)", webhook.id, event.id)
            return 0
        try:
            await self._client.start_workflow(
                WebhookDeliveryWorkflow.run,
                WebhookDeliveryInput(
                    webhook_id=webhook.id,
                    delivery_id=delivery_id,
                    document=document,
                    retry_initial_s=self._settings.webhook_retry_initial_s,
                    retry_for_s=self._settings.webhook_retry_for_s,
                    timeout_s=self._settings.webhook_timeout_s,
                ),
                id=delivery_workflow_id(delivery_id),
                task_queue=WORKFLOW_TASK_QUEUE,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                request_eager_start=True,  # a worker of this process takes its first task
            )
        except WorkflowAlreadyStartedError:
            return 0
        await self._store.log(row)
        return 1
