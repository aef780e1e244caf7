"""Aggregates over the whole ticket table (counts, KPIs), recomputed only when a ticket changed.

Every change to a ticket that a count or a KPI can see writes a row of
history (`tickets.history.record`: opening, every workflow action, escalation,
recurrence, folding, auto-resolution) and every new ticket takes a new id, so
``(max(tickets.id), max(ticket_events.id))`` — two primary-key lookups —
changes whenever such an aggregate can. An aggregate is computed once per
query and stamp, and kept at most `ttl_s` (a bound for writers that bypass
the history): past that age, with the stamp unchanged, requests get the
kept value while one thread computes it again behind them, so a read-only
store never makes a request wait for a fresh aggregate (a changed stamp
always does). Other processes' changes are seen through the same stamp.
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
    def __init__(self, ttl_s: float = 60.0, size: int = 512, clock: Callable[[], float] = time.monotonic,
                 engine: Engine | None = None):
        self.ttl_s, self.size, self.clock, self.engine = ttl_s, size, clock, engine
        self._items: OrderedDict[Hashable, tuple[tuple, float, object]] = OrderedDict()
        self._lock = threading.Lock()
        self._refreshing: set[Hashable] = set()

    def _refresh(self, key: Hashable, compute: Callable[[Connection], V]) -> None:
        """Recompute an aged aggregate on a connection of its own (the requests meanwhile get the old one)."""
        try:
            with self.engine.connect() as conn:
                current, value = stamp(conn), compute(conn)
            with self._lock:
                self._items[key] = (current, self.clock(), value)
        except Exception:  # noqa: BLE001 - the next request past the age computes it in line
            with self._lock:
                self._items.pop(key, None)
        finally:
            with self._lock:
                self._refreshing.discard(key)

    def kept(self, key: Hashable):
        """The value kept for `key` (whatever its age or stamp), or None."""
        with self._lock:
            hit = self._items.get(key)
        return None if hit is None else hit[2]

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
            if hit is not None and hit[0] == current:
                self._items.move_to_end(key)
                if now - hit[1] < self.ttl_s:
                    return hit[2]
                if self.engine is not None:  # aged, nothing seen changing: answer now, refresh behind
                    if key not in self._refreshing:
                        self._refreshing.add(key)
                        threading.Thread(target=self._refresh, args=(key, compute), daemon=True,
                                         name="aggregate-refresh").start()
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
            cache = _caches[engine] = AggregateCache(engine=engine)
        return cache
