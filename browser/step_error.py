"""The failure of one step, typed for Temporal."""

from __future__ import annotations


class StepError(Exception):
    """A step failed; `error_type` says what kind of failure, `retryable` if a retry can help."""

    def __init__(self, message: str, error_type: str, retryable: bool) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.retryable = retryable
