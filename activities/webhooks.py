"""The webhook delivery activity: sign the event, send it once, log the attempt, and say how it
went (a failed attempt raises, so that Temporal tries again with backoff)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.egress import EgressPolicy
from core.secrets import SecretBox
from core.webhook_signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signature
from notify.chat import chat_message
from notify.delivery import DELIVERED, GONE, REFUSED, AttemptResult, Timeouts, post
from store.models import Webhook, WebhookDelivery
from store.webhooks import WebhookStore
from workflows.messages import WebhookDeliveryInput

log = logging.getLogger(__name__)
SKIPPED = "skipped"
USER_AGENT = "testrun-webhooks/1"


def body_of(webhook: Webhook, document: dict) -> bytes:
    """The bytes sent: the event document, or a chat message in the `slack` format."""
    shaped = chat_message(document) if webhook.format == "slack" else document
    return json.dumps(shaped, separators=(",", ":")).encode()


class WebhookActivities:
    """Delivers webhook events (on the webhooks task queue, apart from runs)."""

    def __init__(
        self,
        store: WebhookStore,
        secrets: SecretBox,
        policy: EgressPolicy,
        connect_timeout_s: float,
        count: Callable[[str], None] | None = None,
    ) -> None:
        self._store = store
        self._secrets = secrets
        self._policy = policy
        self._connect_timeout_s = connect_timeout_s
        self._count = count

    @activity.defn
    async def deliver_webhook(self, delivery: WebhookDeliveryInput) -> str:
        """One attempt: `delivered`, `disabled` (410), `skipped` (off or deleted); raises
        to be tried again, or for good if the egress policy refuses the address."""
        webhook = await self._store.webhook(delivery.webhook_id)
        attempt = activity.info().attempt
        if webhook is None or not webhook.enabled:
            return SKIPPED
        secret = self._secrets.open(webhook.sealed_secret)["secret"]
        body = body_of(webhook, delivery.document)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature(secret, body, int(time.time())),
            DELIVERY_HEADER: delivery.delivery_id,
            EVENT_HEADER: str(delivery.document.get("type", "")),
        }
        timeouts = Timeouts(self._connect_timeout_s, delivery.timeout_s)
        result = await post(webhook.url, body, headers, self._policy, timeouts)
        await self._log(webhook, delivery, attempt, result)
        if result.outcome == DELIVERED:
            return DELIVERED
        if result.outcome == GONE:
            await self._store.disable(webhook.id, "the receiver answered 410 Gone")
            log.warning("webhook %s disabled: its receiver answered 410 Gone", webhook.id)
            return GONE
        if result.outcome == REFUSED:
            raise ApplicationError(str(result.error), type="WebhookRefused", non_retryable=True)
        raise ApplicationError(f"attempt {attempt}: {result.error}", type="WebhookFailed")

    async def _log(
        self, webhook: Webhook, delivery: WebhookDeliveryInput, attempt: int, result: AttemptResult
    ) -> None:
        await self._store.log(
            WebhookDelivery(
                webhook_id=webhook.id,
                project_id=webhook.project_id,
                delivery_id=delivery.delivery_id,
                event_id=str(delivery.document.get("id", "")),
                event_type=str(delivery.document.get("type", "")),
                attempt=attempt,
                outcome=result.outcome,
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                error=result.error,
                document=delivery.document,
            )
        )
        if self._count is not None:
            self._count(result.outcome)
