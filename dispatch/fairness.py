"""Which queued runs get the free session slots: priority first, then the least recently served
project, then arrival.

A project with 500 waiting runs therefore cannot starve a project with one: after each grant
the served project goes behind every other project whose head has the same priority.
"""

from __future__ import annotations

import heapq
from datetime import datetime

from store.admission import Candidate, ProjectRoom
from store.models import as_utc


def served_key(moment: datetime | None) -> float:
    """When a project was last served, as a sortable number (never served: first)."""
    if moment is None:
        return 0.0
    return as_utc(moment).timestamp()


def choose(
    rooms: list[ProjectRoom], heads: dict[int, list[Candidate]], free: int
) -> list[Candidate]:
    """Up to `free` runs, at most each project's room, in the order they should start."""
    room = {r.project_id: r.room for r in rooms}
    queues = {pid: list(reversed(runs)) for pid, runs in heads.items() if runs}
    heap = [
        (queues[r.project_id][-1].priority_key, served_key(r.last_admitted_at), r.project_id)
        for r in rooms
        if r.project_id in queues
    ]
    heapq.heapify(heap)
    chosen: list[Candidate] = []
    turn = max((key for _p, key, _i in heap), default=0.0)
    while heap and len(chosen) < free:
        _priority, _served, project_id = heapq.heappop(heap)
        chosen.append(queues[project_id].pop())
        room[project_id] -= 1
        if room[project_id] > 0 and queues[project_id]:
            turn += 1.0
            heapq.heappush(heap, (queues[project_id][-1].priority_key, turn, project_id))
    return chosen
