"""Ingest counters: messages stored and refused, by stage, reason and firmware.

Kept as cumulative totals and as deltas flushed to the InfluxDB measurement
``ingest_stats`` (tags stage, reason, firmware; field ``messages``: the count
in the interval), from which the API's ``/metrics`` sums them over every
ingest process. Stages: ``stored``; the dead-letter stages ``decode``,
``validate`` and ``write``; and counts that overlap those: ``clock_skew``
(stored at receipt time), ``spooled`` (went to the disk spool first),
``redelivered`` (the broker sent the message again).
"""

from __future__ import annotations

import threading
from collections import Counter

from influx.line_protocol import encode_line

SUB_MS = 1_000_000


class IngestStats:
    def __init__(self):
        self._lock = threading.Lock()
        self.totals: Counter = Counter()  # (stage, reason, firmware) -> messages
        self._delta: Counter = Counter()

    def add(self, counts: Counter) -> None:
        with self._lock:
            self.totals.update(counts)
            self._delta.update(counts)

    def total(self, stage: str) -> int:
        with self._lock:
            return sum(n for (s, _, _), n in self.totals.items() if s == stage)

    def flush_lines(self, now_ms: int) -> list[str]:
        """Lines for the counts since the last flush.

        >>> stats = IngestStats(); stats.add(Counter({("stored", "", "2.1.0"): 3}))
        >>> stats.flush_lines(1000)
        ['ingest_stats,firmware=2.1.0,stage=stored messages=3i 1000000000']
        >>> stats.flush_lines(2000)
        []
        """
        with self._lock:
            delta, self._delta = self._delta, Counter()
        return [_line(stage, reason, firmware, n, now_ms) for (stage, reason, firmware), n in sorted(delta.items()) if n]


def _line(stage: str, reason: str, firmware: str, n: int, now_ms: int) -> str:
    r"""One counter line; a firmware that cannot be a tag value is counted without it (never raises).

    >>> _line("stored", "", "9.9\\", 2, 1000)
    'ingest_stats,stage=stored messages=2i 1000000000'
    """
    try:
        return encode_line("ingest_stats", {"stage": stage, "reason": reason, "firmware": firmware},
                           {"messages": n}, now_ms * SUB_MS)
    except ValueError:
        return encode_line("ingest_stats", {"stage": stage, "reason": reason}, {"messages": n}, now_ms * SUB_MS)


def totals_from(reader) -> dict[tuple[str, str], int]:
    """Messages by (stage, reason) since the database began, over every ingest process."""
    rows = reader.rows('SELECT sum("messages") AS "messages" FROM "ingest_stats" GROUP BY "stage", "reason"')
    return {(row.get("stage") or "", row.get("reason") or ""): int(row["messages"] or 0) for row in rows}
