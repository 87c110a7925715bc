"""Machine-readable error types shared by activities (which raise them) and workflows."""

SESSION_LOST = "SessionLost"
"""The browser context or its worker is gone; the run starts again from setup."""
HANDOVER_MISSED = "HandoverMissed"
"""A successor found its predecessor's context gone from that worker: it goes back in line."""

SELECTOR_NOT_FOUND = "SelectorNotFound"
ASSERTION_FAILED = "AssertionFailed"
NAVIGATION_FAILED = "NavigationFailed"
STEP_ERROR = "StepError"
"""Retryable: the page may behave on the next attempt."""

INVALID_SELECTOR = "InvalidSelector"
INVALID_STEP = "InvalidStep"
UPLOAD_REJECTED = "UploadRejected"
AUTH_REJECTED = "AuthRejected"
EGRESS_BLOCKED = "EgressBlocked"
CONSOLE_FLOOD = "ConsoleFlood"
"""Non-retryable: no attempt can succeed."""

INVALID_TEST = "InvalidTest"
VARIABLE_MISSING = "VariableMissing"
TEST_FAILED = "TestFailed"
TEST_TIMED_OUT = "TestTimedOut"
TEST_CANCELLED = "Cancelled"
SESSIONS_EXHAUSTED = "SessionsExhausted"
"""How a run workflow itself fails."""

SCHEDULE_TARGET_MISSING = "ScheduleTargetMissing"
SCHEDULE_QUEUE_FULL = "QueueFull"
"""Why a schedule's fire queued nothing."""


PAGE_TEXT_LIMIT = 500
"""Characters of page text an error may quote; pages are untrusted and unbounded."""
MESSAGE_LIMIT = 2000
"""Characters of a whole step error, whatever it quotes: far below Temporal's failure limit."""


def cut(text: str, limit: int = PAGE_TEXT_LIMIT) -> str:
    """`text` if it fits within `limit` characters, else its start marked as cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [cut: {len(text) - limit} more characters]"
