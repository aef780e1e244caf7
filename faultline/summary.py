"""The summary line a running service logs: what it did in the last interval.

`faultline run` and `faultline ingest` log one line every
``FAULTLINE_LOG_SUMMARY_S`` seconds (0: never), read from the counters the
stages keep anyway, so an operator sees that the service works (or where it
does not) without a dashboard::

    last 60 s: stored 12,034 messages, spooled 0 batches (0 waiting), dead letters 3, late records 0, anomalies 2; open tickets 1
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger("faultline.summary")
DEAD_STAGES = ("decode", "validate", "write")


@dataclass(frozen=True, slots=True)
class Counters:
    """Totals since start (levels where said); None: not a stage of this process."""

    stored: int = 0  # messages stored (InfluxDB or spool)
    spooled: int = 0  # batches written to the disk spool
    spool_waiting: int = 0  # level: batches in the spool now
    dead_letters: int = 0
    late: int | None = None  # records older than the open detector windows
    anomalies: int | None = None
    open_tickets: int | None = None  # level


def summary_line(before: Counters, after: Counters, seconds: float) -> str:
    """The line for the change from ``before`` to ``after``.

    >>> summary_line(Counters(10, 0, 0, 1), Counters(25, 1, 1, 1, late=0, anomalies=2, open_tickets=1), 60)
    'last 60 s: stored 15 messages, spooled 1 batches (1 waiting), dead letters 0, late records 0, anomalies 2; open tickets 1'
    >>> summary_line(Counters(), Counters(stored=1200), 10)
    'last 10 s: stored 1,200 messages, spooled 0 batches (0 waiting), dead letters 0'
    """
    parts = [f"stored {after.stored - before.stored:,} messages",
             f"spooled {after.spooled - before.spooled:,} batches ({after.spool_waiting:,} waiting)",
             f"dead letters {after.dead_letters - before.dead_letters:,}"]
    if after.late is not None:
        parts.append(f"late records {after.late - (before.late or 0):,}")
    if after.anomalies is not None:
        parts.append(f"anomalies {after.anomalies - (before.anomalies or 0):,}")
    line = f"last {seconds:g} s: " + ", ".join(parts)
    return line + (f"; open tickets {after.open_tickets:,}" if after.open_tickets is not None else "")


def ingest_counters(ingest) -> Counters:
    """The counters of an `ingest.service.IngestService`."""
    totals = ingest.stats.totals.copy()
    return Counters(stored=sum(n for (stage, _, _), n in totals.items() if stage == "stored"),
                    spooled=ingest.writer.spooled, spool_waiting=len(ingest.spool),
                    dead_letters=sum(n for (stage, _, _), n in totals.items() if stage in DEAD_STAGES))


class SummaryLog:
    """Logs `summary_line` every ``interval_s`` on a thread of its own until ``stop``."""

    def __init__(self, read: Callable[[], Counters], interval_s: float, stop: threading.Event):
        self.read = read
        self.interval_s = interval_s
        self.stop = stop

    def start(self) -> None:
        if self.interval_s > 0:
            threading.Thread(target=self._run, name="faultline-summary", daemon=True).start()

    def _run(self) -> None:
        before = self._read()
        while not self.stop.wait(self.interval_s):
            after = self._read()
            if before is not None and after is not None:
                log.info(summary_line(before, after, self.interval_s))
            before = after if after is not None else before

    def _read(self) -> Counters | None:
        try:
            return self.read()
        except Exception:  # noqa: BLE001 - a summary never stops the service
            log.warning("could not read the counters for the summary line", exc_info=True)
            return None
