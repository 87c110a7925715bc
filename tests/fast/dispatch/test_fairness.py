"""Who gets the free session slots: priority, then the least recently served project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch.fairness import choose
from store.admission import Candidate, ProjectRoom

EARLIER = datetime(2026, 1, 1, tzinfo=UTC)


def queue(project_id: int, count: int, priority_key: int = 3, first_id: int = 1) -> list[Candidate]:
    return [Candidate(first_id + i, project_id, priority_key) for i in range(count)]


def test_a_project_never_served_goes_before_a_busy_one_and_then_they_alternate() -> None:
    rooms = [ProjectRoom(1, 10, EARLIER + timedelta(seconds=5)), ProjectRoom(2, 10, None)]
    heads = {1: queue(1, 5, first_id=1), 2: queue(2, 5, first_id=100)}
    chosen = choose(rooms, heads, free=4)
    assert [c.project_id for c in chosen] == [2, 1, 2, 1]
    assert [c.row_id for c in chosen if c.project_id == 1] == [1, 2], "in queue order"


def test_the_project_served_longest_ago_goes_first() -> None:
    rooms = [ProjectRoom(1, 5, EARLIER + timedelta(seconds=9)), ProjectRoom(2, 5, EARLIER)]
    chosen = choose(rooms, {1: queue(1, 3), 2: queue(2, 3, first_id=50)}, free=1)
    assert [c.project_id for c in chosen] == [2]


def test_a_higher_priority_head_goes_first_whatever_the_service_history() -> None:
    rooms = [ProjectRoom(1, 5, EARLIER + timedelta(seconds=9)), ProjectRoom(2, 5, None)]
    heads = {1: queue(1, 2, priority_key=1), 2: queue(2, 2, priority_key=3, first_id=50)}
    assert [c.project_id for c in choose(rooms, heads, free=3)] == [1, 1, 2]


def test_room_and_free_slots_bound_the_choice() -> None:
    rooms = [ProjectRoom(1, 1, None), ProjectRoom(2, 2, EARLIER)]
    chosen = choose(rooms, {1: queue(1, 5), 2: queue(2, 5, first_id=50)}, free=10)
    assert sorted(c.project_id for c in chosen) == [1, 2, 2]
    assert choose(rooms, {1: queue(1, 5)}, free=0) == []
