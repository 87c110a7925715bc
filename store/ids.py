"""Row IDs as clients send them: validated before they reach a query."""

from __future__ import annotations

MAX_ROW_ID = 2**62


def as_row_id(value: object) -> int | None:
    """A value usable as a primary key (a positive integer the databases can hold), or None."""
    text = str(value)
    if not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ROW_ID else None
