"""Per-device state kept in memory while the device is active, loaded from SQL on first use.

The registry, the ledger and the metric-name catalogue keep one entry per
device (or per device and topic). A fleet that turns over, or a publisher
inventing device ids, would grow those maps without end; here an entry not
used for a while is dropped from memory (`evict_idle`) and read back from
SQL, where it stays, the next time the device speaks.

So that a device speaking for the first time costs no SQL query, the cache
can be given the keys SQL holds (`stored`, read once at start): a key
outside them is known to be new and gets `absent(key)`; an evicted key
joins them (memory for a silent device drops to its key).

Last use is recorded at the resolution of `advance` (the pipeline calls it
at each housekeeping pass): reading the clock on every lookup costs more
than a lookup, and idle periods are days.

>>> loads = []
>>> cache = IdleCache(lambda key: loads.append(key) or key.upper(), now=lambda: 1000)
>>> cache.get("a"), cache.get("a"), loads
('A', 'A', ['a'])
>>> cache.evict_idle(before_ms=2000), len(cache)
(1, 0)
"""

from __future__ import annotations

from typing import Callable, Generic, Hashable, Iterable, TypeVar

from runtime.clock import wall_ms

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class IdleCache(Generic[K, V]):
    """A dict of `key -> value` with a last-use time per key; misses call `load(key)`."""

    def __init__(self, load: Callable[[K], V], now: Callable[[], int] = wall_ms,
                 stored: Iterable[K] | None = None, absent: Callable[[K], V] | None = None):
        self.load = load
        self.now = now
        self.absent = absent
        self.clock_ms = now()  # the time recorded as last use
        self._stored: set[K] | None = set(stored) if stored is not None else None
        self._items: dict[K, list] = {}  # key -> [value, last use (epoch ms)]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: K) -> bool:
        return key in self._items

    def get(self, key: K) -> V:
        item = self._items.get(key)
        if item is None:
            new = self._stored is not None and key not in self._stored
            item = self._items[key] = [self.absent(key) if new else self.load(key), self.clock_ms]
        else:
            item[1] = self.clock_ms
        return item[0]

    def peek(self, key: K) -> V | None:
        """The value if it is in memory (no load, no use recorded)."""
        item = self._items.get(key)
        return item[0] if item is not None else None

    def put(self, key: K, value: V) -> None:
        self._items[key] = [value, self.clock_ms]

    def advance(self) -> None:
        """Read the clock: later uses are recorded at this time."""
        self.clock_ms = self.now()

    def values(self) -> list[V]:
        return [item[0] for item in self._items.values()]

    def items(self) -> list[tuple[K, V]]:
        return [(key, item[0]) for key, item in self._items.items()]

    def evict_idle(self, before_ms: int, keep: Callable[[K], bool] = lambda key: False) -> int:
        """Drop the entries last used before `before_ms` (except those `keep` holds on to)."""
        self.advance()
        idle = [key for key, item in self._items.items() if item[1] < before_ms and not keep(key)]
        for key in idle:
            del self._items[key]
        if self._stored is not None:
            self._stored.update(idle)
        return len(idle)
