"""Webhook signatures, the scheme Stripe uses: `X-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256 of "<t>.<raw body>" keyed with the webhook's secret>`. A receiver recomputes it
over the raw body and rejects a timestamp older than its tolerance (a replay)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Signature"
DELIVERY_HEADER = "X-Delivery-Id"
EVENT_HEADER = "X-Event-Type"
TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh webhook secret (shown once, when it is made)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, body: bytes, at: int) -> str:
    """The X-Signature header's value for `body` sent at unix time `at`."""
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


def verify(
    secret: str, body: bytes, header: str, now: float, tolerance_s: int = TOLERANCE_S
) -> bool:
    """Whether `header` signs `body` with `secret` and is at most `tolerance_s` old."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    at = int(parts["t"])
    expected = signature(secret, body, at).split("v1=", 1)[1]
    return abs(now - at) <= tolerance_s and hmac.compare_digest(expected, parts["v1"])
