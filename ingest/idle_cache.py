"""Per-device state kept in memory while the device is active, loaded from SQL on first use.

The registry, the ledger and the metric-name catalogue keep one entry per
device (or per device and topic). A fleet that turns over, or a publisher
inventing device ids, would grow those maps without end; here an entry not
used for a while is dropped from memory (`evict_idle`) and read back from
SQL, where it stays, the next time the device speaks.

>>> loads = []
>>> cache = IdleCache(lambda key: loads.append(key) or key.upper(), now=lambda: 1000)
>>> cache.get("a"), cache.get("a"), loads
('A', 'A', ['a'])
>>> cache.evict_idle(before_ms=2000), len(cache)
(1, 0)
"""

from __future__ import annotations

import time
from typing import Callable, Generic, Hashable, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def wall_ms() -> int:
    return int(time.time() * 1000)


class IdleCache(Generic[K, V]):
    """A dict of `key -> value` with a last-use time per key; misses call `load(key)`."""

    def __init__(self, load: Callable[[K], V], now: Callable[[], int] = wall_ms):
        self.load = load
        self.now = now
        self._items: dict[K, list] = {}  # key -> [value, last use (epoch ms)]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def get(self, key: K) -> V:
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = [self.load(key), self.now()]
        else:
            item[1] = self.now()
        return item[0]

    def peek(self, key: K) -> V | None:
        """The value if it is in memory (no load, no use recorded)."""
        item = self._items.get(key)
        return item[0] if item is not None else None

    def put(self, key: K, value: V) -> None:
        self._items[key] = [value, self.now()]

    def values(self) -> list[V]:
        return [item[0] for item in self._items.values()]

    def items(self) -> list[tuple[K, V]]:
        return [(key, item[0]) for key, item in self._items.items()]

    def evict_idle(self, before_ms: int, keep: Callable[[K], bool] = lambda key: False) -> int:
        """Drop the entries last used before `before_ms` (except those `keep` holds on to)."""
        idle = [key for key, item in self._items.items() if item[1] < before_ms and not keep(key)]
        for key in idle:
            del self._items[key]
        return len(idle)
