"""Make a batch durable: InfluxDB, else the disk spool; refused points to dead letters.

- While the spool is empty, a batch is written straight to InfluxDB; once
  anything is spooled, later batches queue behind it, so writes keep their
  order per device.
- A retryable failure (network, 5xx, 429 with its Retry-After) and a
  configuration failure (401/403/404: no point of the batch is at fault) send
  the batch to the spool; the drainer retries it with backoff and jitter.
- A 400 (parse error, field type conflict) isolates the bad points by
  bisection: the good ones are written, each message owning a refused point
  goes to the dead-letter store with InfluxDB's error text. A 413 splits too.
- A full spool blocks `commit` (the caller stops acknowledging, so the broker
  keeps the messages) until the drainer makes room: nothing is dropped.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Callable, Protocol

from influx.errors import InfluxError
from ingest.batch import SpooledBatch
from ingest.deadletters import DeadLetter
from ingest.spool import Spool, SpoolFull

log = logging.getLogger("faultline.ingest")

PRECISION = "ns"
SPLITTABLE = (400, 413, 422)


class LineWriter(Protocol):
    def write(self, body: bytes | str, precision: str = "ms", gzip: bool = False) -> None: ...


class Stopped(RuntimeError):
    """The writer was asked to stop before the batch became durable."""


def backoff_delay(attempt: int, retry_after: float | None = None, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential backoff with jitter, at least the server's Retry-After.

    >>> 0.25 <= backoff_delay(0) <= 0.5 and 15 <= backoff_delay(10) <= 30
    True
    >>> backoff_delay(0, retry_after=7) >= 7
    True
    """
    delay = min(cap, base * 2 ** attempt) * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


class DurableWriter:
    def __init__(self, client: LineWriter, spool: Spool, store_dead: Callable[[list[DeadLetter]], None],
                 stop: threading.Event, gzip: bool = False):
        self.client = client
        self.spool = spool
        self.store_dead = store_dead
        self.stop = stop
        self.gzip = gzip
        self._order = threading.Lock()
        self._spooled = threading.Condition()
        self.last_error: str | None = None
        self.spooled = 0  # batches appended to the spool

    def commit(self, batch: SpooledBatch) -> list[DeadLetter]:
        """Return once every line is in InfluxDB, in the spool, or dead-lettered."""
        if not batch.lines:
            return []
        with self._order:
            if len(self.spool) == 0:
                try:
                    return self._store_refused(batch, self.write_isolating(batch.lines))
                except InfluxError as exc:
                    self._note_failure(exc)
        # Only this (the writer) thread commits, so nothing overtakes the batch while it
        # waits for room; the lock stays free for the drainer to make that room.
        self._append_waiting(batch)
        return []

    def _note_failure(self, exc: InfluxError) -> None:
        if self.last_error != str(exc):
            log.warning("InfluxDB write failed, spooling to disk: %s", exc)
        self.last_error = str(exc)

    def _append_waiting(self, batch: SpooledBatch) -> None:
        attempt = 0
        while True:
            try:
                self.spool.append(batch)
                break
            except SpoolFull as exc:
                if attempt == 0:
                    log.warning("%s: backpressure until InfluxDB takes the spool", exc)
                if self.stop.wait(min(1.0, 0.05 * 2 ** attempt)):
                    raise Stopped("stopped while the spool was full") from None
                attempt += 1
        self.spooled += 1
        with self._spooled:
            self._spooled.notify_all()

    def write_isolating(self, lines: list[str], offset: int = 0) -> list[tuple[int, str]]:
        """Write `lines`; return (index, error) of the lines InfluxDB refuses for good."""
        try:
            self.client.write(("\n".join(lines) + "\n").encode(), precision=PRECISION, gzip=self.gzip)
            return []
        except InfluxError as exc:
            if exc.retryable or exc.status not in SPLITTABLE:
                raise
            if len(lines) == 1:
                return [(offset, str(exc))]
            half = len(lines) // 2
            return (self.write_isolating(lines[:half], offset)
                    + self.write_isolating(lines[half:], offset + half))

    def _store_refused(self, batch: SpooledBatch, refused: list[tuple[int, str]]) -> list[DeadLetter]:
        letters: dict[int, DeadLetter] = {}
        for index, error in refused:
            src = batch.source_of(index)
            if src is None or id(src) in letters:
                continue
            letters[id(src)] = DeadLetter(src.received_ms, src.topic, src.payload, "write", "influx_rejected",
                                          error, src.device, src.firmware)
        dead = list(letters.values())
        self.store_dead(dead)
        return dead

    def drain_forever(self) -> None:
        """Write spooled batches oldest first until `stop` is set (the drainer thread)."""
        attempt = 0
        while not self.stop.is_set():
            item = self.spool.peek()
            if item is None:
                with self._spooled:
                    self._spooled.wait(0.5)
                continue
            path, batch = item
            try:
                self._store_refused(batch, self.write_isolating(batch.lines))
            except InfluxError as exc:
                self._note_failure(exc)
                self.stop.wait(backoff_delay(attempt, exc.retry_after))
                attempt += 1
                continue
            with self._order:
                self.spool.pop(path)
            if attempt:
                log.info("InfluxDB answers again; draining the spool (%d batches left)", len(self.spool))
            attempt = 0
            self.last_error = None
