"""`faultline detect` as a process: MQTT in, anomalies to InfluxDB out.

What it runs: a pipeline (``pipeline``, `faultline.pipeline.Pipeline`,
built by the composition root): detectors, anomaly sink and, unless
``--no-alerts``, the alert and ticket stages, exactly as in `faultline run`.
This module only feeds it.

How it gets records: its own persistent MQTT session (client id
``FAULTLINE_DETECTOR_MQTT_CLIENT_ID``, QoS 1, never unsubscribing, through
`ingest.mqtt.Subscriber`, the one module that imports paho) on
``{prefix}/+/+``, so the broker queues for it while it restarts, independently
of ingest. Each message is decoded by `ingest.decode.decode_message` (the
same code and the same limits as ingest: payload size, clock skew, maximum
age; rejected messages are counted here and dead-lettered by ingest), fed to
the pipeline, then acknowledged. Over MQTT 3.1.1 (``FAULTLINE_MQTT_PROTOCOL``,
as ingest) a reconnect makes the broker send every retained message again;
those replays (`Incoming.replayed`: the session had them already) are
acknowledged and counted, not fed.

How it scales: ``--shard i/n`` runs the device and telemetry detectors for
the devices whose stable hash falls in shard ``i``; shard 0 also runs the
cohort scan and the rules, which need every device's activity but cost only
counting. Every shard receives the whole stream, each with its own session
(client id suffixed ``-i-of-n``). A shard without the cohort scan needs
nothing of other shards' devices: their messages are acknowledged unread (the
topic names the device; `OtherShards`), so they cost it the MQTT receive and
no decoding or detector work.

With ``FAULTLINE_DETECTOR_HANDOFF=n`` (`ingest.handoff`) a shard reads no
device topic: ingest hands it the records of its own devices, batched, on
``faultline/handoff/{prefix}/n/i`` (the cohort shard subscribes to every part), so a
shard receives its part of the stream, not the whole of it.

State: restored from ``{data_dir}/detectors/state-i-of-n.pkl`` at start (or
warmed up from InfluxDB history when there is none and warm-up is enabled),
checkpointed every ``FAULTLINE_DETECTOR_CHECKPOINT_S`` and on shutdown. Time
enters as an injected ``now``; windows close on event time and, when traffic
stops, on ``now`` (see `DetectService.housekeeping`).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Callable

from runtime.supervisor import Supervisor
from ingest.config import MB
from ingest.decode import DecodeError, DecodeLimits, decode_message
from ingest.inbox import CLOSED, Inbox
from ingest.mqtt import held_size
from ingest.handoff import HandoffError, filter_of
from ingest.handoff import decode as decode_handoff

log = logging.getLogger("faultline.detectors")


class DetectService:
    """MQTT in, records into ``pipeline`` (its ``detectors`` is the `DetectorEngine`), checkpoints on disk.

    ``supervisor`` is the one whose ``guard`` the pipeline was built with.
    """

    def __init__(self, settings, pipeline, subscriber_factory: Callable, limits: DecodeLimits,
                 supervisor: Supervisor, now: Callable[[], float] = time.time, history=None):
        self.settings = settings
        self.pipeline = pipeline
        self.engine = pipeline.detectors
        self.config = self.engine.config
        self.now = now
        self.history = history  # an InfluxClient for warm-up, or None
        # bounded in bytes, as ingest's: a stream of large payloads waits at the broker, not in memory
        self.inbox = Inbox(settings.inbox_max_mb * MB)
        i, n = self.config.shard
        suffix = f"-{i}-of-{n}" if n > 1 else ""
        self.client_id = settings.detector_mqtt_client_id + suffix
        self.state_path = Path(settings.data_dir) / "detectors" / f"state-{i}-of-{n}.pkl"
        self.handoff = settings.detector_handoff > 0
        if self.handoff and settings.detector_handoff != n:
            raise ValueError(f"FAULTLINE_DETECTOR_HANDOFF={settings.detector_handoff} hands records to "
                             f"{settings.detector_handoff} shards, but this is shard {i} of {n}: set the same n on "
                             f"ingest and every shard")
        topic_filter = filter_of(settings.mqtt_topic_prefix, n, i, everything=self.config.cohort) if self.handoff \
            else f"{settings.mqtt_topic_prefix}/+/+"
        self.subscriber = subscriber_factory(settings.mqtt_url, self.client_id, topic_filter, self._receive)
        self.topic_filter = topic_filter
        self.limits = limits
        self.others = OtherShards(settings.mqtt_topic_prefix, self.engine.owns) \
            if n > 1 and not self.config.cohort and not self.handoff else None
        self.rejected = 0
        self.processed = 0
        self.fed = 0  # records fed to the pipeline
        self.skipped = 0  # messages of other shards' devices, acknowledged unread
        self.replayed = 0  # retained messages sent again on a reconnect (MQTT 3.1.1), acknowledged unread
        self.supervisor = supervisor
        self._last_checkpoint = now()
        self._last_message = now()

    def _receive(self, msg) -> None:
        """paho's network thread: queue `msg`, waiting while the inbox is full (the socket waits too)."""
        self.inbox.put(msg, held_size(msg))  # closed: it stays with the broker

    def start(self) -> None:
        if self.engine.restore(self.state_path):
            log.info("detector state restored from %s", self.state_path)
        elif self.history is not None and self.settings.detector_warmup_days > 0:
            from detectors.warmup import warm_up
            until = int(self.now() * 1000)
            warm_up(self.engine, self.history, until - int(self.settings.detector_warmup_days * 86_400_000), until)
        self.subscriber.start()

    def handle(self, msg) -> bool:
        if msg.replayed:
            self.replayed += 1
            return self._ack_unread(msg)
        if self.others is not None and self.others.skip(msg.topic):
            self.skipped += 1
            return self._ack_unread(msg)
        try:
            if self.handoff:
                records = decode_handoff(msg.payload)
            else:
                records = decode_message(msg.topic, msg.payload, msg.received_ms,
                                         prefix=self.settings.mqtt_topic_prefix, cohort_of=self.engine.cohort_of,
                                         limits=self.limits)
        except HandoffError as exc:
            self.rejected += 1
            log.warning("a handoff message on %s that is not one (%s): acknowledged, not fed", msg.topic[:120], exc)
            records = []
        except DecodeError:
            self.rejected += 1
            records = []
        self.pipeline.feed(records)
        self.processed += 1
        self.fed += len(records)
        self._last_message = self.now()
        self.subscriber.ack(msg.mid, msg.qos, msg.generation)
        return True

    def _ack_unread(self, msg) -> bool:
        self._last_message = self.now()
        self.subscriber.ack(msg.mid, msg.qos, msg.generation)
        return True

    def housekeeping(self) -> None:
        """Close windows on the clock once traffic has stopped, retry pending writes, checkpoint when due.

        Windows close on event time; the clock only closes them when no
        message arrived for ``lateness_s + 60`` seconds (a quiet fleet), never
        before the first record, so a backlog queued at the broker during a
        restart is still counted in the windows it belongs to.
        """
        now = self.now()
        idle = now - self._last_message >= self.config.lateness_s + 60.0
        if idle and self.engine.next_window is not None:
            self.pipeline.tick(int(now * 1000))
        self.pipeline.sweep()
        if self.now() - self._last_checkpoint >= self.settings.detector_checkpoint_s:
            self.engine.checkpoint(self.state_path)
            self._last_checkpoint = self.now()

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Until `stop`: each message and each housekeeping pass guarded (logged, counted, the loop goes on)."""
        self.start()
        try:
            while not stop.is_set():
                msg = self.inbox.get(poll_s)
                if msg is not None and self.supervisor.guard("message", self.handle, msg, default=False) is False:
                    self.subscriber.ack(msg.mid, msg.qos, msg.generation)  # stored by ingest; not a poison pill here
                self.supervisor.guard("housekeeping", self.housekeeping)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.inbox.close()  # what arrives from now on stays unacknowledged with the broker
        self.subscriber.stop()
        while (msg := self.inbox.get(0)) is not CLOSED:  # closed: empty means CLOSED, never None
            self.handle(msg)
        self.engine.checkpoint(self.state_path)
        sink = self.pipeline.anomalies
        if sink is not None:
            sink.flush()
        log.info("detectors stopped: %d messages (%d records), %d rejected, %d of other shards' devices and %d "
                 "retained replays acknowledged unread, %d anomalies written", self.processed, self.fed,
                 self.rejected, self.skipped, self.replayed, sink.written if sink is not None else 0)


class OtherShards:
    """Which messages belong to another shard's devices, from the topic alone (no payload decoding).

    ``owns(device)`` is the shard's own rule (`DetectorEngine.owns`). A topic
    that is not ``{prefix}/{device}/{kind}`` is never skipped: decoding
    rejects it and counts it.

    >>> others = OtherShards("devices", lambda device: device.endswith(("2", "4")))
    >>> [others.skip(f"devices/px200-{k:04d}/telemetry") for k in range(1, 5)]
    [True, False, True, False]
    >>> others.skip("devices/px200-0001"), others.skip("elsewhere/px200-0001/logs")
    (False, False)
    """

    def __init__(self, prefix: str, owns: Callable[[str], bool]):
        self.head = prefix.rstrip("/") + "/"
        self.owns = owns

    def skip(self, topic: str) -> bool:
        if not topic.startswith(self.head):
            return False
        slash = topic.find("/", len(self.head))
        if slash <= len(self.head):
            return False
        return not self.owns(topic[len(self.head):slash])
