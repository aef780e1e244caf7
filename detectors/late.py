"""Late records: older than every open detector window, counted and never folded into one.

A fault-rate window is evaluated once, when event time has passed its end by
the lateness allowance (``FAULTLINE_DETECTOR_LATENESS_S``). A record whose
window was already evaluated (a second replay of a simulation into a running
service, or devices that buffered through an outage and send their backlog
after newer data) cannot change that verdict, and counting it into the
current window would put old faults at the wrong time: it is counted here
instead, logged (at the 1st, 10th, 100th, ... late record) and shown in the
service's summary line and on ``/metrics``. The records themselves are
stored in InfluxDB like any other; ``faultline eval`` scores such data
offline, and ``faultline simulate`` warns before it publishes event times
older than the data already stored.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

log = logging.getLogger("faultline.detectors")


class LateRecords:
    """A count of late records, with the oldest and newest late event time.

    >>> late = LateRecords()
    >>> [late.note(ts, open_from_ms=10_000) for ts in (5_000, 6_000)]
    [True, False]
    >>> late.count, late.oldest_ms, late.newest_ms
    (2, 5000, 6000)
    """

    def __init__(self):
        self.count = 0
        self.oldest_ms: int | None = None
        self.newest_ms: int | None = None

    def note(self, ts_ms: int, open_from_ms: int) -> bool:
        """Count one late record; True when it was logged."""
        self.count += 1
        self.oldest_ms = ts_ms if self.oldest_ms is None else min(self.oldest_ms, ts_ms)
        self.newest_ms = ts_ms if self.newest_ms is None else max(self.newest_ms, ts_ms)
        if str(self.count).rstrip("0") != "1":
            return False
        log.warning("%d late record(s) so far: event time %s is before the oldest open detector window (%s); "
                    "late records are stored but not evaluated, because their windows were already closed",
                    self.count, _utc(ts_ms), _utc(open_from_ms))
        return True


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
