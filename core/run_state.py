"""A run's state, and the sets of states the service reasons about, defined once."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """Where a run stands: queued, holding a browser session, or ended one way or another."""

    WAITING = "waiting"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


UNFINISHED_STATES = (RunState.WAITING, RunState.ACTIVE)
"""The run may still change: it is queued or running."""
FINAL_STATES = (RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED, RunState.TIMED_OUT)
"""The run has ended; its result is stored."""
RETRYABLE_STATES = (RunState.FAILED, RunState.CANCELLED, RunState.TIMED_OUT)
"""A run in one of these may be run again (`/retry`)."""
FAILED_STATES = RETRYABLE_STATES
"""What retention and the queue's counts call failed: every ending but completion."""
