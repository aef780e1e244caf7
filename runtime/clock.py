"""Clocks: `wall_ms`, the wall clock in epoch milliseconds, and `EventClock`, the time the alerting stage lives in.

It follows the newest event time seen (the watermark) and, between events,
runs on at wall-clock speed. Live, event time is wall time, so this is the
wall clock; during a simulator run or a replay faster than real time it is
the simulated time, so pending periods, quiet periods and flap windows mean
the same thing in both. Before the first event it reads the wall clock.

>>> wall = iter([100.0, 100.0, 101.5]).__next__
>>> clock = EventClock(wall=wall)
>>> clock.observe(5_000); clock()
5000
>>> clock()
6500
"""

from __future__ import annotations

import threading
import time
from typing import Callable


def wall_ms() -> int:
    """The wall clock in milliseconds since the epoch (every stage's default `now`)."""
    return time.time_ns() // 1_000_000


class EventClock:
    def __init__(self, wall: Callable[[], float] = time.monotonic, epoch: Callable[[], float] = time.time):
        self.wall = wall
        self.epoch = epoch
        self._lock = threading.Lock()
        self._mark_ms: int | None = None
        self._mark_wall = 0.0

    def observe(self, event_ms: int) -> None:
        """Move the clock forward to an event time (never back)."""
        with self._lock:
            now_wall = self.wall()
            if self._mark_ms is None or event_ms > self._mark_ms + (now_wall - self._mark_wall) * 1000:
                self._mark_ms, self._mark_wall = event_ms, now_wall

    @property
    def started(self) -> bool:
        """Whether an event time was seen (before that, the clock reads the wall clock)."""
        return self._mark_ms is not None

    def __call__(self) -> int:
        with self._lock:
            if self._mark_ms is None:
                return int(self.epoch() * 1000)
            return int(self._mark_ms + (self.wall() - self._mark_wall) * 1000)
