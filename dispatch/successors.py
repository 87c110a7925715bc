"""Successors: the next run for each busy slot, admitted while its holder still runs.

When every slot is busy, the dispatcher admits one queued run per running run ahead of time:
it waits on that run's worker and opens its context there the moment that run's closes, so a
freed slot goes to the next run without a grant, a signal and a task queue in between (the
refill gap). The choice is the admission policy's own (dispatch.fairness), with one difference:
a project may fill each of its own running runs' slots, since the successor replaces its
predecessor there. Like a message broker's prefetch of one, it fixes each slot's next run one run
ahead: a run queued meanwhile, even one of a higher priority, starts after it.
"""

from __future__ import annotations

from collections import Counter

from store.admission import Candidate
from store.models import Run


def extra_room(holders: list[Run]) -> Counter[int]:
    """Per project, the slots its own running runs hold that a successor of it may take."""
    return Counter(holder.project_id for holder in holders)


def pair(chosen: list[Candidate], holders: list[Run]) -> dict[int, int]:
    """Each chosen run's predecessor (run ID to run ID): a holder of its own project if one
    is left (the extra room it was chosen in), else the earliest holder left (its project
    had room of its own, counted for it from now on)."""
    left = list(holders)
    predecessor: dict[int, int] = {}
    for candidate in chosen:
        own = next((h for h in left if h.project_id == candidate.project_id), None)
        if own is not None:
            left.remove(own)
            assert own.id is not None
            predecessor[candidate.row_id] = own.id
    for candidate in chosen:
        if candidate.row_id not in predecessor and left:
            holder = left.pop(0)
            assert holder.id is not None
            predecessor[candidate.row_id] = holder.id
    return predecessor
