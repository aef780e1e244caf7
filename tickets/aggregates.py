"""Aggregates over the whole ticket table (counts, KPIs), recomputed only when a ticket changed.

Every change to a ticket that a count or a KPI can see writes a row of
history (`tickets.history.record`: opening, every workflow action, escalation,
recurrence, folding, auto-resolution) and every new ticket takes a new id, so
``(max(tickets.id), max(ticket_events.id))`` — two primary-key lookups —
changes whenever such an aggregate can. An aggregate is computed once per
query and stamp, and kept at most `ttl_s` (a bound for writers that bypass
the history); other processes' changes are seen through the same stamp.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

from sqlalchemy import Connection, Engine, func, select

from tickets.models import EventRow, TicketRow

V = TypeVar("V")
_caches: "weakref.WeakKeyDictionary[Engine, AggregateCache]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def stamp(conn: Connection) -> tuple[int, int]:
    """The newest ticket id and history row id."""
    ticket = conn.execute(select(func.max(TicketRow.__table__.c.id))).scalar() or 0
    event = conn.execute(select(func.max(EventRow.__table__.c.id))).scalar() or 0
    return int(ticket), int(event)


class AggregateCache:
    def __init__(self, ttl_s: float = 60.0, size: int = 512, clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.size, self.clock = ttl_s, size, clock
        self._items: OrderedDict[Hashable, tuple[tuple, float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: Connection, key: Hashable, compute: Callable[[Connection], V]) -> V:
        """`compute(conn)`, or its earlier result when nothing changed since and it is fresh enough.

        >>> cache, calls = AggregateCache(), []
        >>> class Conn:  # stands in for a connection whose stamp is (3, 9)
        ...     def execute(self, stmt): return type("R", (), {"scalar": lambda s: 3 if "tickets" in str(stmt) else 9})()
        >>> [cache.get(Conn(), "n", lambda c: calls.append(1) or len(calls)) for _ in range(3)], len(calls)
        ([1, 1, 1], 1)
        """
        now, current = self.clock(), stamp(conn)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == current and now - hit[1] < self.ttl_s:
                self._items.move_to_end(key)
                return hit[2]
        value = compute(conn)
        with self._lock:
            self._items[key] = (current, now, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def cache_of(engine: Engine) -> AggregateCache:
    """The engine's cache (one per engine, so one per database)."""
    with _lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = AggregateCache()
        return cache
