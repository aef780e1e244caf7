"""Is ingest doing its job? What `/ready` reports about the pipeline and the broker.

`Progress` counts messages handed to the pipeline and messages whose batch
completed (durable and acknowledged, or given up). Work is *waiting* when
the first count is ahead; the pipeline is *stalled* when work has been
waiting and no batch completed for ``stall_s`` -- InfluxDB and the spool both
refusing, a full spool, a writer stuck on the SQL database. A quiet fleet
is not a stall: nothing waits.

>>> clock = iter([0.0, 1.0, 100.0, 100.0]).__next__
>>> p = Progress(monotonic=clock)
>>> p.arrived(); p.stalled_s()
99.0
>>> readiness(True, [], p, 60.0)["ingest"]
'1 messages waiting, no batch completed for 99 s'
"""

from __future__ import annotations

import time
from typing import Callable


class Progress:
    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self.monotonic = monotonic
        self.received = 0
        self.done = 0
        self._since = monotonic()  # the later of: the last completion, the moment work started waiting

    def arrived(self) -> None:
        if self.received <= self.done:
            self._since = self.monotonic()
        self.received += 1

    def completed(self, messages: int) -> None:
        self.done += messages
        self._since = self.monotonic()

    @property
    def waiting(self) -> int:
        return max(0, self.received - self.done)

    def stalled_s(self) -> float:
        """Seconds without a completed batch while work waits (0 when nothing waits)."""
        return self.monotonic() - self._since if self.waiting else 0.0


def readiness(connected: bool, dead: list[str], progress: Progress, stall_s: float) -> dict[str, str | None]:
    """``{"mqtt": problem or None, "ingest": problem or None}``."""
    problem = None
    if dead:
        problem = f"thread {', '.join(dead)} stopped"
    else:
        stalled = progress.stalled_s()
        if stalled >= stall_s:
            problem = f"{progress.waiting} messages waiting, no batch completed for {stalled:.0f} s"
    return {"mqtt": None if connected else "not connected to the broker", "ingest": problem}
