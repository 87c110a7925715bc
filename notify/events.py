"""The events a project's webhooks hear, as versioned JSON documents with an `id` for
deduplication: a run finished, a suite run finished, a schedule failed after a pass or passed
after a failure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.run_result import first_line
from core.run_state import RunState
from notify.rules import (
    RUN_FINISHED,
    SCHEDULE_FAILED,
    SCHEDULE_RECOVERED,
    SUITE_RUN_FINISHED,
    TEST_EVENT,
    EventFacts,
)
from store.models import Run, as_utc
from store.suite_runs import wall_time_s

DOCUMENT_VERSION = 1


@dataclass(frozen=True)
class WebhookEvent:
    """One event: what its document says, and the facts its webhooks' rules read."""

    id: str
    type: str
    data: dict[str, Any]
    facts: EventFacts
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def document(self) -> dict[str, Any]:
        """The body every webhook of the event receives (in its JSON format)."""
        return {
            "id": self.id,
            "type": self.type,
            "version": DOCUMENT_VERSION,
            "createdAt": self.created_at.isoformat(),
            "data": self.data,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> WebhookEvent:
        """The event a document was made of, to send it again as it was (rules are not asked
        again: its facts say only that it is to be sent)."""
        return cls(
            str(document["id"]),
            str(document["type"]),
            dict(document.get("data", {})),
            EventFacts(True),
            datetime.fromisoformat(str(document["createdAt"])),
        )


def run_data(run: Run, base_url: str) -> dict[str, Any]:
    """A finished run as events describe it: name, outcome, the failed step and its reason,
    and the dashboard's page of the run."""
    result = run.outcome
    failed = next((s for s in (result.steps if result else []) if s.status == "failed"), None)
    return {
        "jobId": run.job_id,
        "testId": run.test_id,
        "testName": run.test_name,
        "suiteName": run.suite_name,
        "suiteRunId": run.suite_run_id,
        "scheduleId": run.schedule_id,
        "environment": run.environment,
        "state": run.state,
        "passed": run.state == RunState.COMPLETED,
        "flaky": run.flaky,
        "reason": first_line(run.error),
        "errorType": result.error_type if result else None,
        "failedStep": None
        if failed is None
        else {
            "number": failed.index + 1,
            "action": failed.action,
            "selector": failed.selector_used,
            "error": first_line(failed.error),
        },
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.finished_at),
        "durationS": run.duration_s,
        "url": f"{base_url}/ui/runs/{run.job_id}",
    }


def _facts(run: Run) -> EventFacts:
    return EventFacts(
        passed=run.state == RunState.COMPLETED,
        test_id=run.test_id,
        suite_id=run.suite_id,
        schedule_id=run.schedule_id,
        environment=run.environment,
    )


def run_finished(run: Run, base_url: str) -> WebhookEvent:
    """`run.finished` (one per run, whichever process tells of it)."""
    return WebhookEvent(
        f"evt-{run.job_id}", RUN_FINISHED, {"run": run_data(run, base_url)}, _facts(run)
    )


def schedule_turned(run: Run, base_url: str) -> WebhookEvent:
    """`schedule.failed` (the run failed after the schedule's previous run passed) or
    `schedule.recovered` (it passed after a failure)."""
    kind = SCHEDULE_RECOVERED if run.state == RunState.COMPLETED else SCHEDULE_FAILED
    data = {"scheduleId": run.schedule_id, "run": run_data(run, base_url)}
    return WebhookEvent(f"evt-{kind}-{run.job_id}", kind, data, _facts(run))


def suite_run_finished(runs: list[Run], base_url: str) -> WebhookEvent:
    """`suite_run.finished`, once every latest run of the suite run has ended (a retry that
    ends makes another, with its own id)."""
    first = runs[0]
    failed = [run for run in runs if run.state != RunState.COMPLETED]
    data = {
        "suiteRunId": first.suite_run_id,
        "suiteId": first.suite_id,
        "suiteName": first.suite_name,
        "environment": first.environment,
        "passed": not failed,
        "counts": {state: sum(1 for run in runs if run.state == state) for state in _ENDED},
        "wallTimeS": wall_time_s(runs),
        "failedRuns": [run_data(run, base_url) for run in failed],
        "url": f"{base_url}/ui/suite-runs/{first.suite_run_id}",
    }
    facts = EventFacts(
        passed=not failed,
        suite_id=first.suite_id,
        schedule_id=first.schedule_id,
        environment=first.environment,
    )
    ended_ids = sorted(run.job_id for run in runs)
    return WebhookEvent(
        f"evt-{first.suite_run_id}-{len(ended_ids)}-{ended_ids[-1][-8:]}",
        SUITE_RUN_FINISHED,
        data,
        facts,
    )


def test_event(project_id: int, base_url: str) -> WebhookEvent:
    """What "send a test event" sends."""
    now = datetime.now(UTC)
    data = {
        "message": "a test event from the test-run service",
        "projectId": project_id,
        "url": f"{base_url}/ui/projects/{project_id}/webhooks",
    }
    return WebhookEvent(f"evt-test-{now.timestamp():.6f}", TEST_EVENT, data, EventFacts(True), now)


_ENDED = (RunState.COMPLETED, RunState.FAILED, RunState.CANCELLED, RunState.TIMED_OUT)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else as_utc(moment).isoformat()
