"""A bounded memory of keys seen lately: the oldest is forgotten first."""

from __future__ import annotations

from collections import OrderedDict


class RecentKeys:
    """Remembers up to `size` keys; `key in recent` tells whether one was seen lately."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def remember(self, key: str) -> None:
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)
