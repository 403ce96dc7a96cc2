"""A least-recently-used map bounded by the total size of its values: the caches of an index generation."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A least-recently-used map bounded by the total `size` of its values (the caller holds the lock)."""

    def __init__(self, limit: int, size: Callable[[V], int] = lambda _value: 1) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._limit = limit
        self._size = size
        self._total = 0

    def get(self, key: K) -> V | None:
        """The value kept for `key`, now the most recently used, or None."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> V:
        """Keep `value` (in place of the key's value if any), dropping the least recently used values past
        the limit (never the last one)."""
        previous = self._items.pop(key, None)
        if previous is not None:
            self._total -= self._size(previous)
        self._items[key] = value
        self._total += self._size(value)
        while self._total > self._limit and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._total -= self._size(old)
        return value
