"""Test definitions the suite's modules share (pages from tests.support.pages)."""

from __future__ import annotations

import uuid
from typing import Any

from core.definition import Step


def shop_test(pages_url: str, *steps: dict, **fields: object) -> dict:
    """The demo shop: buy, check the total, take a screenshot (or the given steps)."""
    return {
        "name": "shop",
        "start_url": pages_url + "shop.html",
        "steps": list(steps)
        or [
            {"action": "click", "selector": "#buy"},
            {"action": "assert", "selector": "#total", "value": "42"},
            {"action": "screenshot"},
        ],
        **fields,
    }


LOGIN_STEPS = [
    {"action": "type", "selector": "#username", "value": "{{username}}"},
    {"action": "type", "selector": "#password", "value": "{{ password }}"},
    {"action": "click", "selector": "#submit"},
    {"action": "assert", "selector": "#welcome", "value": "Welcome"},
]
"""The login page's form, with the auth flow's credentials as placeholders."""


def login_steps() -> list[Step]:
    """LOGIN_STEPS as a run's auth flow carries them."""
    return [Step.model_validate(step) for step in LOGIN_STEPS]


def flaky_test(pages_url: str) -> dict[str, Any]:
    """Two steps; the first fails once (HTTP 503) and passes on its retry 0.5 s later."""
    key = uuid.uuid4().hex[:8]
    return {
        "name": "flaky then fine",
        "start_url": pages_url + "shop.html",
        "retry": {"max_attempts": 3, "initial_interval_s": 0.5},
        "steps": [
            {"action": "navigate", "value": f"/flaky/{key}/1"},
            {"action": "assert", "selector": "#flaky", "value": "served on request 2"},
        ],
    }


def waiting_shop_test(pages_url: str, name: str, wait_ms: int) -> dict[str, Any]:
    """Buy, wait `wait_ms` (long enough to kill something mid-run), check the total."""
    return {
        "name": name,
        "start_url": pages_url + "shop.html",
        "steps": [
            {"action": "click", "selector": "#buy"},
            {"action": "wait", "value": wait_ms},
            {"action": "assert", "selector": "#total", "value": "42"},
        ],
    }
