"""What every way of queueing runs does once their rows are written: wake the dispatcher and
tell watchers where the new runs stand (the `queued` event)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from live.events import queued_event
from live.publisher import EventPublisher
from store.new_runs import NewRun


def announce_queued(
    events: EventPublisher, wake: Callable[[], None], queued: Sequence[tuple[NewRun, int]]
) -> None:
    """Runs were queued at these positions: admit now, and publish each one's `queued` event."""
    wake()
    for run, position in queued:
        events.publish(
            queued_event(
                run.job_id, run.project_id, position, run.test_id, run.priority, run.test_name
            )
        )
