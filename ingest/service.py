"""`faultline ingest`: MQTT → InfluxDB with acknowledgement after durable write.

Threads: paho's network thread hands messages to the pipeline thread, which
builds batches (flushed by size or linger time); the writer thread makes each
batch durable (registry and dead letters in SQL, points in InfluxDB or the
disk spool) and only then acknowledges its messages and hands its records to
the sinks (detectors); the drainer thread empties the spool. Backpressure is
the broker's: at most ``mqtt_max_inflight`` messages are unacknowledged, so a
stalled writer stops the flow at the broker, which keeps the rest queued.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from faultline.db import make_engine, migrate
from faultline.settings import Settings
from influx.client import InfluxClient
from ingest import deadletters
from ingest.batch import Batch, SpooledBatch
from ingest.decode import DecodeLimits
from ingest.ledger import Ledger
from ingest.mqtt import NEVER_EXPIRES, Incoming, Subscriber
from ingest.pipeline import Pipeline
from ingest.records import Record
from ingest.registry import DeviceRegistry
from ingest.spool import Spool
from ingest.stats import IngestStats
from ingest.writer import DurableWriter, Stopped

log = logging.getLogger("faultline.ingest")
SUB_MS = 1_000_000


def topic_filter(settings: Settings) -> str:
    base = settings.mqtt_topic_prefix.rstrip("/") + "/#"
    return f"$share/{settings.mqtt_shared_group}/{base}" if settings.mqtt_shared_group else base


def decode_limits(settings: Settings) -> DecodeLimits:
    return DecodeLimits(max_payload_bytes=settings.max_payload_bytes,
                        max_skew_ms=int(settings.max_clock_skew_s * 1000),
                        max_age_ms=int(settings.max_age_days * 86_400_000))


class IngestService:
    def __init__(self, settings: Settings, sinks: list[Callable[[list[Record]], None]] = (), engine=None,
                 persistent_session: bool = True):
        self.settings = settings
        self.sinks = list(sinks)
        self.engine = engine or make_engine(settings.sql_url)
        migrate(settings.sql_url) if engine is None else None
        self.client = InfluxClient(settings.influx_url, settings.influx_db, settings.influx_user,
                                   settings.influx_password.get_secret_value(), settings.influx_timeout_s)
        self.registry = DeviceRegistry(self.engine)
        self.ledger = Ledger(grace_ms=int(settings.gap_grace_s * 1000))
        self.ledger.load(self.engine)
        self.stats = IngestStats()
        self.stop_event = threading.Event()
        self.spool = Spool(settings.data_dir / "spool", settings.spool_max_mb * 1_048_576)
        self.writer = DurableWriter(self.client, self.spool, self._store_dead, self.stop_event)
        self.pipeline = Pipeline(self.registry, self.ledger, settings.mqtt_topic_prefix, decode_limits(settings))
        self.inbox: queue.SimpleQueue[Incoming] = queue.SimpleQueue()
        self.batches: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
        # A session of its own that ends with the connection (the demo) queues nothing while away.
        self.subscriber = Subscriber(settings.mqtt_url, settings.mqtt_client_id, topic_filter(settings),
                                     self._receive, settings.mqtt_keepalive_s, settings.mqtt_max_inflight,
                                     clean_start=not persistent_session,
                                     session_expiry=NEVER_EXPIRES if persistent_session else 0)
        self.flush_messages = max(1, min(settings.batch_size, settings.mqtt_max_inflight // 2))
        self.acked = 0  # messages acknowledged to the broker
        self._accepting = True
        self._threads: list[threading.Thread] = []

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        for name, target in (("pipeline", self._pipeline_loop), ("writer", self._writer_loop),
                             ("drainer", self.writer.drain_forever)):
            thread = threading.Thread(target=target, name=f"ingest-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.subscriber.start()

    def stop(self) -> None:
        """Stop reading, flush, acknowledge what is durable, disconnect (never unsubscribe)."""
        self._accepting = False
        self.inbox.put(None)  # wakes the pipeline, which flushes and ends the writer
        for thread in self._threads[:2]:
            thread.join(timeout=60)
        self.stop_event.set()
        self._threads[2].join(timeout=10)
        self._flush_last_counts()
        self.subscriber.stop()
        self.ledger.save(self.engine)

    def _flush_last_counts(self) -> None:
        """Counts the writer added after the pipeline's last flush (written, or spooled for the next start)."""
        lines = self.stats.flush_lines(int(time.time() * 1000))
        try:
            self.writer.commit(SpooledBatch(lines, []))
        except Exception:  # noqa: BLE001 - counters only; never block a stop
            log.warning("could not write the last %d counter lines", len(lines))

    # --- threads ----------------------------------------------------------------

    def _receive(self, msg: Incoming) -> None:
        if self._accepting:
            self.inbox.put(msg)  # unacknowledged ones stay with the broker otherwise

    def _pipeline_loop(self) -> None:
        linger = self.settings.linger_ms / 1000
        every = self.settings.stats_interval_s
        batch, next_housekeeping = Batch(), time.monotonic() + every
        while True:
            timeout = max(0.0, batch.opened_at + linger - time.monotonic()) if batch.messages else every
            try:
                msg = self.inbox.get(timeout=timeout)
            except queue.Empty:
                msg = False
            if msg is None:
                self._housekeeping(batch)  # counts since the last flush are written too
                self.batches.put(batch)
                self.batches.put(None)
                return
            if msg:
                if not batch.messages:
                    batch.opened_at = time.monotonic()
                self.pipeline.add(batch, msg)
            if time.monotonic() >= next_housekeeping:
                self._housekeeping(batch)
                next_housekeeping = time.monotonic() + every
            if batch.messages >= self.flush_messages or len(batch.lines) >= self.settings.batch_size \
                    or (batch.messages and time.monotonic() - batch.opened_at >= linger) \
                    or (batch.lines and not batch.messages):  # housekeeping lines alone
                self.batches.put(batch)
                batch = Batch()

    def _housekeeping(self, batch: Batch) -> None:
        now_ms = int(time.time() * 1000)
        batch.lines.extend(self.stats.flush_lines(now_ms))
        for gap in self.ledger.confirmed_gaps(now_ms):
            batch.lines.append(f"ingest_gaps,device={gap.device},topic={gap.topic} "
                               f"missing={gap.to_seq - gap.from_seq + 1}i,from_seq={gap.from_seq}i,"
                               f"to_seq={gap.to_seq}i {now_ms * SUB_MS + gap.from_seq % SUB_MS}")
        self.ledger.save(self.engine)

    def _writer_loop(self) -> None:
        while True:
            batch = self.batches.get()
            if batch is None:
                return
            try:
                self._commit(batch)
            except Stopped:
                return
            except Exception:  # noqa: BLE001 - keep running; the batch stays unacknowledged
                log.exception("could not make a batch durable; its messages stay with the broker")
                self.stop_event.wait(1.0)

    def _commit(self, batch: Batch) -> None:
        self.registry.persist(batch.metas, batch.statuses)
        self._store_dead(batch.dead)
        spooled_before = self.writer.spooled
        for letter in self.writer.commit(batch.spooled()):
            batch.stats[("write", letter.reason_kind, letter.firmware or "")] += 1
        if self.writer.spooled > spooled_before:
            batch.stats[("spooled", "", "")] += batch.messages
        for mid, qos, generation in batch.acks:
            self.subscriber.ack(mid, qos, generation)
        self.acked += len(batch.acks)
        self.stats.add(batch.stats)
        for sink in self.sinks:
            sink(batch.records)

    def _store_dead(self, letters) -> None:
        if letters:
            deadletters.add(self.engine, letters)
            for letter in letters[:1]:
                log.warning("dead letter (%s) on %s: %s; payload %r", letter.stage, letter.topic[:120],
                            letter.reason[:200], letter.payload[:80])
