"""Task queue names shared by the worker, the API and the tests."""

WORKFLOW_TASK_QUEUE = "test-runs"
"""Run workflows are executed here."""

SESSION_TASK_QUEUE = "browser-sessions"
"""Opening a browser session is polled here only by workers with a free session slot."""


WEBHOOK_TASK_QUEUE = "webhooks"
"""Webhook deliveries are attempted here, apart from runs: a slow receiver never holds a slot
a run could use."""


def worker_session_queue(worker_id: str) -> str:
    """The task queue served only by one worker process, where its sessions live."""
    return f"{SESSION_TASK_QUEUE}/{worker_id}"
