"""Live `position` events: the dispatcher tells the runs near the head of each queue when
their position changed (a run ahead started, was cancelled, or a live run arrived ahead)."""

from __future__ import annotations

from live.events import RunEvent
from live.publisher import EventPublisher
from store.admission import AdmissionStore
from store.queue import queue_heads

DEPTH = 100
"""Runs this close to the head get an event for every change; deeper runs get one once they
come this close (their `queued` event gave their position at arrival)."""


class PositionNotifier:
    """Compares the heads of the queues with the last pass and publishes what moved."""

    def __init__(self, admission: AdmissionStore, events: EventPublisher) -> None:
        self._admission = admission
        self._events = events
        self._last: dict[str, int] = {}

    async def notify_once(self) -> int:
        """Publish the changed positions; how many (none, and no query, without Redis)."""
        if not self._events.delivers:
            return 0
        async with self._admission.session() as session:
            heads = await queue_heads(session, DEPTH)
        current = {job: position for job, _, position in heads}
        changed = 0
        for job, project, position in heads:
            if self._last.get(job) != position:
                changed += 1
                self._events.publish(
                    RunEvent(
                        type="position",
                        jobId=job,
                        projectId=str(project),
                        data={"position": position},
                    )
                )
        self._last = current
        return changed
