"""Machine-readable error types shared by activities (which raise them) and workflows."""

SESSION_LOST = "SessionLost"
"""The browser context or its worker is gone; the run starts again from setup."""

SELECTOR_NOT_FOUND = "SelectorNotFound"
ASSERTION_FAILED = "AssertionFailed"
NAVIGATION_FAILED = "NavigationFailed"
STEP_ERROR = "StepError"
"""Retryable: the page may behave on the next attempt."""

INVALID_SELECTOR = "InvalidSelector"
INVALID_STEP = "InvalidStep"
UPLOAD_REJECTED = "UploadRejected"
AUTH_REJECTED = "AuthRejected"
"""Non-retryable: no attempt can succeed."""

INVALID_TEST = "InvalidTest"
TEST_FAILED = "TestFailed"
TEST_TIMED_OUT = "TestTimedOut"
SESSIONS_EXHAUSTED = "SessionsExhausted"
"""How a run workflow itself fails."""
