"""`faultline ingest`: MQTT → InfluxDB with acknowledgement after durable write.

Threads: paho's network thread hands messages to the pipeline thread through
an inbox bounded in bytes (`ingest.inbox`); the pipeline thread builds
batches (flushed by messages, lines, payload bytes or linger time) and runs
the housekeeping; the writer thread makes each batch durable (registry,
metric names and dead letters in SQL, points in InfluxDB or the disk spool)
and only then acknowledges its messages (with ``FAULTLINE_DETECTOR_HANDOFF``:
once the broker also has the batch's handoff to the detector shards,
``handoff``) and hands its records to the sinks (in-process detectors); the drainer thread empties the spool. Backpressure is the
broker's: at most ``mqtt_max_inflight`` QoS 1 messages are unacknowledged,
and a full inbox stops reading the socket, for QoS 0 as well. Over MQTT 3.1.1
the broker's ``max_inflight_messages`` is that bound (`IngestConfig.inflight_bound`).

Supervision (`runtime.supervisor`): every step of every loop is guarded,
a failure is logged and counted and the loop goes on; a thread that ends
anyway is reported by `readiness` (and ends the process, see `faultline.commands.ingest`).
`stop` finishes within ``stop_timeout_s``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from runtime.supervisor import Supervisor
from influx.client import InfluxClient
from ingest import fields as field_store
from ingest.batch import Batch, SpooledBatch
from ingest.config import MB, IngestConfig
from ingest.deadletters import DeadLetterStore
from ingest.fields import FieldCatalogue, load_allowlist
from ingest.housekeeping import Housekeeping
from ingest.inbox import CLOSED, Inbox
from ingest.ledger import Ledger
from ingest.liveness import Progress, readiness
from ingest.mqtt import NEVER_EXPIRES, Incoming, Subscriber, held_size
from ingest.pipeline import Pipeline
from ingest.records import Record
from ingest.registry import DeviceRegistry
from ingest.spool import Spool
from ingest.stats import IngestStats
from ingest.writer import DurableWriter, Stopped

log = logging.getLogger("faultline.ingest")
COMMIT_ATTEMPTS = 3
TAKE_AT_ONCE = 500  # messages the pipeline takes from the inbox in one go (the linger and housekeeping are checked between)
TAKE_AT_ONCE_BYTES = MB  # and at most this much of them: what it holds there is outside the inbox's bound
THREADS = ("ingest-pipeline", "ingest-writer", "ingest-drainer")


def session(config: IngestConfig, on_message: Callable[[Incoming], None], persistent: bool = True) -> Subscriber:
    """Ingest's MQTT session: the device topics, acknowledged by hand. A session that is not `persistent`
    ends with the connection (the demo) and queues nothing while away."""
    return Subscriber(config.mqtt_url, config.mqtt_client_id, config.topic_filter, on_message,
                      config.mqtt_keepalive_s, config.mqtt_max_inflight, clean_start=not persistent,
                      session_expiry=NEVER_EXPIRES if persistent else 0, max_packet_size=config.mqtt_max_packet_bytes,
                      ca_file=config.mqtt_ca_file, protocol=config.mqtt_protocol)


def field_catalogue(config: IngestConfig, engine) -> FieldCatalogue:
    allow = load_allowlist(config.metric_allowlist_file) if config.metric_allowlist_file else None
    return FieldCatalogue(engine, config.max_metrics_per_device, allow)


def dead_letter_store(config: IngestConfig, engine) -> DeadLetterStore:
    return DeadLetterStore(engine, config.deadletter_max_per_device, config.deadletter_max_mb * MB,
                           int(config.deadletter_retention_days * 86_400_000))


class IngestService:
    """One ingest process over `config`, writing to InfluxDB through `client` and to SQL through `engine`.

    `durable` is the engine whose commits are waited for before a message is acknowledged
    (`database.make_engine(url, durable=True)`); `faultline.wiring.ingest_service` builds all three.
    """

    def __init__(self, config: IngestConfig, client: InfluxClient, engine, durable,
                 sinks: list[Callable[[list[Record]], None]] = (), persistent_session: bool = True,
                 supervisor: Supervisor | None = None, spool=None,
                 ledger_feed: Callable[[list[tuple[int, int, str, str]]], None] | None = None,
                 handoff: Callable[[list[Record], list], None] | None = None, feed=None):
        self.config = config
        self.sinks = list(sinks)
        self.handoff = handoff  # records to the detector shards before a batch is acknowledged (`ingest.handoff`)
        self.engine = engine
        self.durable = durable  # what is acknowledged once committed
        self.supervisor = supervisor or Supervisor("ingest")
        self.client = client
        self.registry = DeviceRegistry(self.durable, authoritative=config.registry_authoritative)
        # A worker of a pool sees every other message of a device (the broker spreads a shared subscription
        # message by message), so its own ledger would report gaps that are not: it keeps none and hands the
        # seqs of each durable batch to `ledger_feed`, the pool's one ledger (`ingest.ledger_keeper`).
        self.ledger_feed = ledger_feed
        own = ledger_feed is None
        self.ledger = Ledger(grace_ms=int(config.gap_grace_s * 1000), engine=self.engine) if own else None
        self.fields = field_catalogue(config, self.durable)
        self.dead = dead_letter_store(config, self.durable)
        self.stats = IngestStats()
        self.housekeeping = Housekeeping(self.supervisor, self.stats, self.ledger, self.registry, self.fields,
                                         self.dead, config.idle_ms)
        self.stop_event = threading.Event()
        self.spool = Spool(spool or config.data_dir / "spool", config.spool_max_mb * MB)
        self.writer = DurableWriter(self.client, self.spool, self._store_dead, self.stop_event)
        self.pipeline = Pipeline(self.registry, self.ledger, config.mqtt_topic_prefix, config.decode_limits,
                                 self.fields)
        self.inbox = Inbox(config.inbox_max_mb * MB)
        self.batches: queue.Queue[Batch | None] = queue.Queue(maxsize=2)
        self.progress = Progress()
        # A worker of a relay (`ingest.relay`) has no session: `feed` hands it the relay's messages and takes its acks.
        if feed is not None:
            feed.on_message = self._receive
        self.subscriber = feed or session(config, self._receive, persistent_session)
        # Half the broker's bound: one half is written while the other arrives. A batch waiting for more than the
        # broker sends unacknowledged would only ever go at the linger time.
        self.flush_messages = max(1, min(config.batch_size, config.inflight_bound // 2))
        self.flush_bytes = config.batch_max_mb * MB
        self.acked = 0  # messages acknowledged to the broker
        self._accepting = True

    # --- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        for name, target in zip(THREADS, (self._pipeline_loop, self._writer_loop, self._drain_loop)):
            self.supervisor.spawn(name, target)
        self.subscriber.start()

    def readiness(self) -> dict[str, str | None]:
        """The problems /ready reports: broker connection, dead threads, a stalled pipeline (None: fine)."""
        return readiness(self.subscriber.connected.is_set(), self.supervisor.dead(), self.progress,
                         self.config.ready_stall_s)

    def stop(self, deadline: float | None = None) -> None:
        """Stop reading, flush, acknowledge what is durable, disconnect (never unsubscribe).

        Done by `deadline` (monotonic; default ``stop_timeout_s`` from now): what is not durable by then
        stays unacknowledged with the broker, which delivers it again after the restart.
        """
        deadline = deadline or time.monotonic() + self.config.stop_timeout_s
        self.supervisor.stopping = True
        self._accepting = False
        self.inbox.close()  # the pipeline flushes what it holds, then ends the writer
        pipeline = self.supervisor.thread(THREADS[0])
        if pipeline is not None and not pipeline.is_alive():
            self._end_writer(deadline)
        busy = self.supervisor.join(list(THREADS[:2]), deadline - 3)
        if busy:
            log.warning("stop: %s still busy; what is not durable stays unacknowledged with the broker", busy)
        self.stop_event.set()
        self.supervisor.join([THREADS[2]], deadline - 2)
        self._flush_last_counts(direct=not busy and deadline - time.monotonic() > self.client.timeout + 1)
        self.subscriber.stop()
        if self.ledger is not None:
            self.supervisor.guard("ledger", self.ledger.save)

    def _end_writer(self, deadline: float) -> None:
        try:
            self.batches.put(None, timeout=max(0.1, deadline - time.monotonic() - 3))
        except queue.Full:
            pass

    def _flush_last_counts(self, direct: bool) -> None:
        """Counts the writer added after the pipeline's last flush (written, or spooled for the next start)."""
        lines = self.stats.flush_lines(int(time.time() * 1000))
        if lines:
            batch = SpooledBatch(lines, [])
            self.supervisor.guard("last counters", self.writer.commit if direct else self.spool.append, batch)

    # --- threads ----------------------------------------------------------------

    def _receive(self, msg: Incoming) -> None:
        if self._accepting and self.inbox.put(msg, held_size(msg)):  # blocks while full: the socket waits
            self.progress.arrived()  # (unaccepted ones stay with the broker)

    def _pipeline_loop(self) -> None:
        linger = self.config.linger_ms / 1000
        every = self.config.stats_interval_s
        batch, next_housekeeping = Batch(), time.monotonic() + every
        while True:
            timeout = max(0.0, batch.opened_at + linger - time.monotonic()) if batch.messages else every
            msgs = self.inbox.get_many(timeout, TAKE_AT_ONCE, TAKE_AT_ONCE_BYTES)
            if msgs is CLOSED:
                self.housekeeping.run(batch, int(time.time() * 1000))  # counts since the last flush too
                self.batches.put(batch)
                self.batches.put(None)
                return
            for msg in msgs:
                if not batch.messages:
                    batch.opened_at = time.monotonic()
                self.pipeline.add(batch, msg)
                if self._full(batch):
                    self.batches.put(batch)
                    batch = Batch()
            if time.monotonic() >= next_housekeeping:
                self.housekeeping.run(batch, int(time.time() * 1000))
                next_housekeeping = time.monotonic() + every
            if self._due(batch, linger):
                self.batches.put(batch)
                batch = Batch()

    def _full(self, batch: Batch) -> bool:
        return (batch.messages >= self.flush_messages or len(batch.lines) >= self.config.batch_size
                or batch.bytes >= self.flush_bytes)

    def _due(self, batch: Batch, linger: float) -> bool:
        return (self._full(batch) or (batch.messages > 0 and time.monotonic() - batch.opened_at >= linger)
                or (bool(batch.lines) and not batch.messages))  # housekeeping lines alone

    def _writer_loop(self) -> None:
        while True:
            batch = self.batches.get()
            if batch is None:
                return
            for attempt in range(COMMIT_ATTEMPTS):
                try:
                    self._commit(batch)
                    break
                except Stopped:
                    return
                except Exception:  # noqa: BLE001 - counted and logged; the batch is tried again
                    self.supervisor.failed("commit")
                    if self.stop_event.wait(0.5 * 2 ** attempt):
                        return
            else:
                log.error("gave up on a batch of %d messages: they stay unacknowledged with the broker",
                          batch.messages)
                self.progress.completed(batch.messages)

    def _commit(self, batch: Batch) -> None:
        self.registry.persist(batch.metas, batch.statuses)
        field_store.persist(self.durable, batch.fields)
        self._store_dead(batch.dead)
        spooled_before = self.writer.spooled
        for letter in self.writer.commit(batch.spooled()):
            batch.stats[("write", letter.reason_kind, letter.firmware or "")] += 1
        if self.writer.spooled > spooled_before:
            batch.stats[("spooled", "", "")] += batch.messages
        if not self._feed_ledger(batch):
            return
        if self.handoff is not None and batch.records:  # acknowledged once the broker has the handoff
            self.supervisor.guard("handoff", self.handoff, batch.records, batch.acks)
        else:
            self.subscriber.ack_all(batch.acks)
        self.acked += len(batch.acks)
        self.progress.completed(batch.messages)
        self.stats.add(batch.stats)
        for sink in self.sinks:
            self.supervisor.guard("sink", sink, batch.records)

    def _feed_ledger(self, batch: Batch) -> bool:
        """Hand a durable batch's seqs to the pool's ledger; False if that failed (the pool is gone): then its
        messages stay unacknowledged, and the broker delivers them again (to a worker that can count them)."""
        if self.ledger_feed is None or not batch.seqs:
            return True
        if self.supervisor.guard("ledger feed", self.ledger_feed, batch.seqs, default=False) is False:
            log.error("the pool's ledger takes no more seqs: %d messages stay unacknowledged", batch.messages)
            self.progress.completed(batch.messages)
            return False
        return True

    def _drain_loop(self) -> None:
        while not self.stop_event.is_set():
            self.supervisor.guard("drain", self.writer.drain_forever)
            self.stop_event.wait(1.0)  # after a failure: the next attempt after a pause

    def _store_dead(self, letters) -> None:
        if letters:
            removed = self.dead.add(letters)
            self.stats.add({("deadletter", cause, ""): n for cause, n in removed.items()})
            for letter in letters[:1]:
                log.warning("dead letter (%s) on %s: %s; payload %r", letter.stage, letter.topic[:120],
                            letter.reason[:200], letter.payload[:80])
