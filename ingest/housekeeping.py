"""The pipeline's periodic chores, each step guarded on its own.

Every ``stats_interval_s``: the counters since the last flush and the gaps
confirmed by the ledger become lines of the current batch, and the ledger
is saved (a worker of a pool keeps no ledger: `ingest.ledger_keeper`).
Every minute: dead letters past their retention are removed. Every ten
minutes: the in-memory state of devices silent for
``device_idle_days`` is dropped (SQL keeps it); the last use those maps
record is read from the clock at each pass. A step that fails is logged
and counted by the supervisor, and the others still run: no input a device
can send stops the pipeline this way.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Callable, Iterable

from runtime.supervisor import Supervisor
from influx.line_protocol import encode_line
from ingest.batch import Batch
from ingest.deadletters import DeadLetterStore
from ingest.fields import FieldCatalogue
from ingest.ledger import Gap, Ledger
from ingest.registry import DeviceRegistry
from ingest.stats import IngestStats

SUB_MS = 1_000_000
RETENTION_EVERY_S = 60.0
EVICTION_EVERY_S = 600.0


def gap_lines(gaps: Iterable[Gap], now_ms: int) -> list[str]:
    """The ``ingest_gaps`` lines of confirmed gaps (one point per gap, at `now_ms`).

    >>> gap_lines([Gap("d1", "telemetry", 4, 6, 0)], 5000)
    ['ingest_gaps,device=d1,topic=telemetry from_seq=4i,missing=3i,to_seq=6i 5000000004']
    """
    lines = []
    for gap in gaps:
        fields = {"missing": gap.to_seq - gap.from_seq + 1, "from_seq": gap.from_seq, "to_seq": gap.to_seq}
        lines.append(encode_line("ingest_gaps", {"device": gap.device, "topic": gap.topic}, fields,
                                 now_ms * SUB_MS + gap.from_seq % SUB_MS))
    return lines


class Housekeeping:
    def __init__(self, supervisor: Supervisor, stats: IngestStats, ledger: Ledger | None, registry: DeviceRegistry,
                 fields: FieldCatalogue, dead: DeadLetterStore, idle_ms: int,
                 monotonic: Callable[[], float] = time.monotonic):
        self.supervisor = supervisor
        self.stats = stats
        self.ledger = ledger
        self.registry = registry
        self.fields = fields
        self.dead = dead
        self.idle_ms = idle_ms
        self.monotonic = monotonic
        self._next_retention = monotonic() + RETENTION_EVERY_S
        self._next_eviction = monotonic() + EVICTION_EVERY_S
        self.evicted: Counter = Counter()
        self.runs = 0

    def run(self, batch: Batch, now_ms: int) -> None:
        self.runs += 1
        for states in (self.registry, self.ledger, self.fields):
            if states is not None:
                states.advance()  # the time their lookups record as a device's last use
        guard = self.supervisor.guard
        guard("counters", self.counter_lines, batch, now_ms)
        if self.ledger is not None:
            guard("gaps", self.gap_lines, batch, now_ms)
            guard("ledger", self.ledger.save)
        if self.monotonic() >= self._next_retention:
            self._next_retention = self.monotonic() + RETENTION_EVERY_S
            guard("dead-letter retention", self.retention, now_ms)
        if self.monotonic() >= self._next_eviction:
            self._next_eviction = self.monotonic() + EVICTION_EVERY_S
            guard("eviction", self.evict_idle, now_ms)

    def counter_lines(self, batch: Batch, now_ms: int) -> None:
        batch.lines.extend(self.stats.flush_lines(now_ms))

    def gap_lines(self, batch: Batch, now_ms: int) -> None:
        batch.lines.extend(gap_lines(self.ledger.confirmed_gaps(now_ms), now_ms))

    def retention(self, now_ms: int) -> None:
        removed = self.dead.prune(now_ms)
        self.stats.add(Counter({("deadletter", cause, ""): n for cause, n in removed.items()}))

    def evict_idle(self, now_ms: int) -> None:
        before = now_ms - self.idle_ms
        self.evicted["registry"] += self.registry.evict_idle(before)
        if self.ledger is not None:
            self.evicted["ledger"] += self.ledger.evict_idle(before)
        self.evicted["fields"] += self.fields.evict_idle(before)
