"""The completeness ledger of `faultline ingest --workers N`: one ledger, fed by every worker.

The broker spreads a shared subscription message by message, so each worker
sees only part of a device's ``seq`` stream and a ledger per worker would
report gaps that are not. Instead each worker keeps none: once a batch is
durable (in InfluxDB or its spool), and before it acknowledges the batch's
messages, it writes one line to a pipe the pool gave it (`LedgerFeed`): the
``(received_ms, seq, device, topic)`` of the batch's readings, as JSON, in
the order the worker took them. The pool reads each worker's pipe on a
thread of its own (`LedgerKeeper.follow`) and one thread counts every
reading in one `ingest.ledger.Ledger`, then, every ``stats_interval_s``,
writes the confirmed gaps to InfluxDB ``ingest_gaps`` and saves the ledger
to SQL, as one ingest process does (`ingest.housekeeping`).

- The workers' lines interleave in the order their batches became durable,
  not the order the broker delivered their messages. The keeper holds each
  reading at least ``hold_ms`` (the batch linger plus 2 s) after it was
  received and counts the held ones in the order they were received, so the
  ledger sees what one process would have seen.
- A reading that comes later than that (a worker whose batch waited on a
  slow InfluxDB) is counted when it comes: a gap it fills is counted as
  ``late`` and in ``gaps_total``, as a late arrival in one process. Each
  worker stamps a reading when it reads it from its socket, so readings of
  two workers can also be stamped out of order (a worker reading behind the
  other): the ledger takes a ``seq`` of 0 or 1 stamped within ``hold_ms``
  after a later one for a late reading, not a device reset
  (``Ledger(reorder_ms=...)``). Only a gap still open after ``gap_grace_s``
  (60 s) is confirmed, so the grace must exceed the time a worker takes to
  make a batch durable.
- A worker that dies loses only the lines of batches it had not acknowledged
  (a line cut short by its death is dropped); the broker delivers those
  messages again, and a reading the ledger had already seen counts as a
  duplicate, as after a restart of one process.
- A full queue blocks the reader, then the worker's write to its pipe, then
  its acknowledgements: the broker holds back, nothing is dropped.

>>> keeper = LedgerKeeper(Ledger(grace_ms=0, reorder_ms=2_000), writer=None)
>>> keeper.take([[10, 1, "d1", "telemetry"], [12, 3, "d1", "telemetry"]])  # one worker's batch
>>> keeper.take([[11, 2, "d1", "telemetry"]])  # the other's
>>> keeper.release(11), keeper.release()
(2, 1)
>>> entry = keeper.ledger.entries()[0]
>>> entry.received, entry.missing, entry.late
(3, [], 0)
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from bisect import bisect_right
from operator import itemgetter
from typing import BinaryIO, Callable

import orjson

from runtime.supervisor import Supervisor
from ingest.housekeeping import EVICTION_EVERY_S, gap_lines
from ingest.idle_cache import wall_ms
from ingest.ledger import Ledger
from ingest.writer import PRECISION, LineWriter

log = logging.getLogger("faultline.ingest")
QUEUE_LINES = 16  # lines read and not yet observed, over every worker
MAX_PENDING_GAPS = 100_000  # gap lines kept for InfluxDB while it refuses them
RELEASE_EVERY_S = 1.0  # held readings are counted this often (sorting them is most of the keeper's work)
WAIT_S = 0.25
RECEIVED = itemgetter(0)


class LedgerFeed:
    """A worker's end: one line of seqs per durable batch, written before its messages are acknowledged."""

    def __init__(self, fd: int):
        self.fd = fd
        self._pipe: BinaryIO = os.fdopen(fd, "wb")

    def __call__(self, seqs: list[tuple[int, int, str, str]]) -> None:
        self._pipe.write(orjson.dumps(seqs) + b"\n")  # blocks while the pool is behind: backpressure
        self._pipe.flush()

    def close(self) -> None:
        self._pipe.close()


class LedgerKeeper:
    """The pool's end: reads the workers' pipes, observes, and every `interval_s` reports gaps and saves."""

    def __init__(self, ledger: Ledger, writer: LineWriter | None, interval_s: float = 10.0, idle_ms: int = 0,
                 hold_ms: int = 2_200, supervisor: Supervisor | None = None, now: Callable[[], int] = wall_ms,
                 monotonic: Callable[[], float] = time.monotonic):
        self.ledger = ledger
        self.writer = writer
        self.interval_s = interval_s
        self.hold_ms = hold_ms
        self.idle_ms = idle_ms
        self.supervisor = supervisor or Supervisor("ledger")
        self.now = now
        self.monotonic = monotonic
        self.pending: list[str] = []  # gap lines InfluxDB has not taken yet
        self.lines = 0  # lines taken
        self._held: list[list] = []  # readings taken, not yet counted: [received_ms, seq, device, topic]
        self._queue: queue.Queue = queue.Queue(QUEUE_LINES)
        self._readers: list[threading.Thread] = []
        self._next_eviction = monotonic() + EVICTION_EVERY_S

    def follow(self, name: str, fd: int) -> None:
        """Read the pipe `fd` (its read end; closed at its end) on a thread of its own."""
        reader = threading.Thread(target=self._read, args=(name, fd), name=f"ledger-{name}", daemon=True)
        self._readers = [t for t in self._readers if t.is_alive()] + [reader]
        reader.start()

    def _read(self, name: str, fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            for line in pipe:
                if not line.endswith(b"\n"):  # cut short by the worker's death: not acknowledged either
                    log.info("ledger: dropped the last, partial line of ingest worker %s", name)
                    break
                try:
                    self._queue.put(orjson.loads(line))
                except orjson.JSONDecodeError:
                    log.error("ledger: ingest worker %s sent a line that is not JSON (%d bytes)", name, len(line))

    def take(self, seqs: list) -> None:
        """Hold one worker's batch of ``[received_ms, seq, device, topic]`` until `release`."""
        self._held += seqs
        self.lines += 1

    def release(self, before_ms: int | None = None) -> int:
        """Count the held readings received at or before `before_ms` (all: None), in the order received."""
        held = self._held
        held.sort()  # by time received, then seq (the order they are counted in)
        cut = len(held) if before_ms is None else bisect_right(held, before_ms, key=RECEIVED)
        ready, self._held = held[:cut], held[cut:]
        observe = self.ledger.observe
        for received_ms, seq, device, topic in ready:
            observe(device, topic, seq, received_ms)
        return cut

    def run(self, done: threading.Event) -> None:
        """Count until `done` is set and every reader has ended, then count the rest, report and save."""
        next_release = self.monotonic()
        next_round = self.monotonic() + self.interval_s
        while True:
            try:
                seqs = self._queue.get(timeout=WAIT_S)
            except queue.Empty:
                seqs = None
                if done.is_set() and not any(t.is_alive() for t in self._readers) and self._queue.empty():
                    break
            if seqs is not None:
                self.take(seqs)
            if self.monotonic() >= next_release:
                self.supervisor.guard("ledger count", self.release, self.now() - self.hold_ms)
                next_release = self.monotonic() + RELEASE_EVERY_S
            if self.monotonic() >= next_round:
                self.round()
                next_round = self.monotonic() + self.interval_s
        self.supervisor.guard("ledger count", self.release)
        self.round()

    def round(self) -> None:
        """Confirmed gaps to InfluxDB, the ledger to SQL, idle streams out of memory (each step guarded)."""
        now_ms = self.now()
        guard = self.supervisor.guard
        self.ledger.advance()
        guard("gaps", self.report_gaps, now_ms)
        guard("ledger", self.ledger.save)
        if self.monotonic() >= self._next_eviction:
            self._next_eviction = self.monotonic() + EVICTION_EVERY_S
            guard("eviction", self.ledger.evict_idle, now_ms - self.idle_ms)

    def report_gaps(self, now_ms: int) -> None:
        self.pending += gap_lines(self.ledger.confirmed_gaps(now_ms), now_ms)
        if len(self.pending) > MAX_PENDING_GAPS:
            log.error("ledger: InfluxDB took no gap line for a while; dropped the %d oldest",
                      len(self.pending) - MAX_PENDING_GAPS)
            del self.pending[:-MAX_PENDING_GAPS]
        if self.pending and self.writer is not None:
            self.writer.write(("\n".join(self.pending) + "\n").encode(), precision=PRECISION)
            self.pending = []
