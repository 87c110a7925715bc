"""What a worker knows of each open session's steps as they finish, for its run's pulses: so
that a run's progress shows every passed step's attempts, selector and duration while the run
goes on, and keeps them after a cancel (the session's own outcome comes only at its end)."""

from __future__ import annotations

from core.run_result import AttemptFailure, StepRecord
from workflows.messages import ActionOutcome


class SessionStepLog:
    """Per session: a record of each test step that passed or failed an attempt."""

    def __init__(self) -> None:
        self._records: dict[str, dict[int, StepRecord]] = {}
        self._changes: dict[str, int] = {}

    def passed(
        self, session_id: str, index: int, action: str, attempt: int, outcome: ActionOutcome
    ) -> None:
        record = self._record(session_id, index, action)
        record.status, record.attempts = "passed", attempt
        record.selector_used, record.duration_ms = outcome.selector_used, outcome.duration_ms
        record.artifacts = list(outcome.artifacts)

    def failed(
        self,
        session_id: str,
        index: int,
        action: str,
        attempt: int,
        failure: AttemptFailure,
    ) -> None:
        record = self._record(session_id, index, action)
        record.attempts = attempt
        record.failures.append(failure)

    def _record(self, session_id: str, index: int, action: str) -> StepRecord:
        self._changes[session_id] = self._changes.get(session_id, 0) + 1
        records = self._records.setdefault(session_id, {})
        return records.setdefault(index, StepRecord(index=index, action=action))

    def records(self, session_id: str) -> list[StepRecord]:
        """The session's step records so far, by index."""
        found = self._records.get(session_id, {})
        return [found[index].model_copy(deep=True) for index in sorted(found)]

    def changes(self, session_id: str) -> int:
        """How many times the session's records changed (a pulse tells them when this moves)."""
        return self._changes.get(session_id, 0)

    def forget(self, session_id: str) -> None:
        self._records.pop(session_id, None)
        self._changes.pop(session_id, None)
