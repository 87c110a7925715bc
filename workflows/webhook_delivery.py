"""The delivery of one event to one webhook: an activity retried with exponential backoff
(doubling up to an hour) for about a day, or until the receiver says 410 Gone. A worker that
dies mid-attempt leaves it to be tried again, so a receiver may get an event twice (with the
same `id` and X-Delivery-Id) but never loses it."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.queues import WEBHOOK_TASK_QUEUE
    from workflows import activity_contracts as contracts
    from workflows.messages import WebhookDeliveryInput

LONGEST_WAIT = timedelta(hours=1)
ATTEMPT_MARGIN_S = 5
"""An attempt ends within its timeout; one not done this much later was lost with its worker
and is made again."""
NOT_RETRIED = ["WebhookRefused"]
"""The egress policy refused the webhook's address: no later attempt would pass."""


def delivery_retry(delivery: WebhookDeliveryInput) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(seconds=delivery.retry_initial_s),
        backoff_coefficient=2.0,
        maximum_interval=max(LONGEST_WAIT, timedelta(seconds=delivery.retry_initial_s)),
        non_retryable_error_types=NOT_RETRIED,
    )


@workflow.defn(name="WebhookDelivery", sandboxed=False)
class WebhookDeliveryWorkflow:
    """Delivers one event to one webhook, durably."""

    @workflow.run
    async def run(self, delivery: WebhookDeliveryInput) -> str:
        return await workflow.execute_activity(
            contracts.deliver_webhook,
            delivery,
            task_queue=WEBHOOK_TASK_QUEUE,
            start_to_close_timeout=timedelta(seconds=delivery.timeout_s + ATTEMPT_MARGIN_S),
            schedule_to_close_timeout=timedelta(seconds=delivery.retry_for_s),
            retry_policy=delivery_retry(delivery),
        )
