"""`faultline detect` as a process: MQTT in, anomalies to InfluxDB out.

How it gets records: its own persistent MQTT session (client id
``FAULTLINE_DETECTOR_MQTT_CLIENT_ID``, QoS 1, never unsubscribing, through
`ingest.mqtt.Subscriber`, the one module that imports paho) on
``{prefix}/+/+``, so the broker queues for it while it restarts, independently
of ingest. Each message is decoded by `ingest.decode.decode_message` (the
same code as ingest; rejected messages are counted here and dead-lettered by
ingest), processed, its anomalies written, then acknowledged.

How it scales: ``--shard i/n`` runs the device and telemetry detectors for
the devices whose stable hash falls in shard ``i``; shard 0 also runs the
cohort scan and the rules, which need every device's activity but cost only
counting. Every shard reads the whole stream (decoding is cheap next to
scoring), each with its own session (client id suffixed ``-i-of-n``).

State: restored from ``{data_dir}/detectors/state-i-of-n.pkl`` at start (or
warmed up from InfluxDB history when there is none and warm-up is enabled),
checkpointed every ``FAULTLINE_DETECTOR_CHECKPOINT_S`` and on shutdown. Time
enters as an injected ``now``; windows close on event time and, when traffic
stops, on ``now`` (see `DetectService.housekeeping`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from detectors.engine import DetectorEngine, EngineConfig
from detectors.sink import AnomalySink
from runtime.supervisor import Supervisor
from ingest.decode import DecodeError, DecodeLimits, decode_message
from ingest.records import EVENT_TIMED, DeviceStatus

log = logging.getLogger("faultline.detectors")


class DetectService:
    def __init__(self, settings, config: EngineConfig, writer, subscriber_factory: Callable,
                 now: Callable[[], float] = time.time, history=None, alerting=None, clock=None):
        self.settings = settings
        self.config = config
        self.now = now
        self.history = history  # an InfluxClient for warm-up, or None
        self.alerting = alerting  # faultline.alerting.AlertingStage: anomalies on to alerts and tickets
        self.clock = clock  # runtime.clock.EventClock fed with event times, for the alert stage
        self.engine = DetectorEngine(config)
        self.sink = AnomalySink(writer)
        self.inbox: queue.Queue = queue.Queue(maxsize=10_000)
        i, n = config.shard
        suffix = f"-{i}-of-{n}" if n > 1 else ""
        self.client_id = settings.detector_mqtt_client_id + suffix
        self.state_path = Path(settings.data_dir) / "detectors" / f"state-{i}-of-{n}.pkl"
        self.subscriber = subscriber_factory(settings.mqtt_url, self.client_id,
                                             f"{settings.mqtt_topic_prefix}/+/+", self.inbox.put)
        self.limits = DecodeLimits(max_payload_bytes=settings.max_payload_bytes)
        self.rejected = 0
        self.processed = 0
        self.supervisor = Supervisor("faultline detect")
        self._last_checkpoint = now()
        self._last_message = now()

    def start(self) -> None:
        if self.engine.restore(self.state_path):
            log.info("detector state restored from %s", self.state_path)
        elif self.history is not None and self.settings.detector_warmup_days > 0:
            from detectors.warmup import warm_up
            until = int(self.now() * 1000)
            warm_up(self.engine, self.history, until - int(self.settings.detector_warmup_days * 86_400_000), until)
        self.subscriber.start()

    def handle(self, msg) -> bool:
        try:
            records = decode_message(msg.topic, msg.payload, msg.received_ms, prefix=self.settings.mqtt_topic_prefix,
                                     cohort_of=self.engine.cohort_of, limits=self.limits)
        except DecodeError:
            self.rejected += 1
            records = []
        anomalies = []
        for record in records:
            if type(record) is DeviceStatus:
                continue  # stamped at receipt, not an event time: replayed backlogs would close windows early
            if self.clock is not None and type(record) in EVENT_TIMED:
                self.clock.observe(record.ts_ms)
            anomalies += self.engine.process(record)
        if anomalies:
            self.sink.write(anomalies)
            if self.alerting is not None:
                self.alerting.handle(anomalies)
        self.processed += 1
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
        ready = self.engine.next_window is not None
        anomalies = self.engine.tick(int(now * 1000)) if idle and ready else []
        if anomalies:
            self.sink.write(anomalies)
        else:
            self.sink.flush()
        if self.alerting is not None:
            self.alerting.handle(anomalies)
            self.alerting.tick()
        if self.now() - self._last_checkpoint >= self.settings.detector_checkpoint_s:
            self.engine.checkpoint(self.state_path)
            self._last_checkpoint = self.now()

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Until `stop`: each message and each housekeeping pass guarded (logged, counted, the loop goes on)."""
        self.start()
        try:
            while not stop.is_set():
                try:
                    msg = self.inbox.get(timeout=poll_s)
                except queue.Empty:
                    msg = None
                if msg is not None and self.supervisor.guard("message", self.handle, msg, default=False) is False:
                    self.subscriber.ack(msg.mid, msg.qos, msg.generation)  # stored by ingest; not a poison pill here
                self.supervisor.guard("housekeeping", self.housekeeping)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.subscriber.stop()
        while not self.inbox.empty():
            self.handle(self.inbox.get_nowait())
        self.engine.checkpoint(self.state_path)
        self.sink.flush()
        log.info("detectors stopped: %d messages, %d rejected, %d anomalies written",
                 self.processed, self.rejected, self.sink.written)
