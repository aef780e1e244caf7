"""`IngestConfig`: what the ingest stage reads from the settings, frozen.

The service, dead-letter replay and the worker pool take this (and the
clients built for them in `faultline.wiring`), never the settings object
itself. `from_settings` reads any object with the ``FAULTLINE_*`` option
names as attributes (`faultline.settings.Settings` in the service).

>>> config = IngestConfig(mqtt_topic_prefix="devices/", mqtt_shared_group="ingest")
>>> config.topic_filter
'$share/ingest/devices/#'
>>> config.decode_limits.max_skew_ms, IngestConfig().topic_filter
(300000, 'devices/#')

The bound on unacknowledged QoS 1 messages: over MQTT 5 the receive maximum
Faultline announces; over MQTT 3.1.1 the broker's ``max_inflight_messages``,
which a client cannot ask for: ``FAULTLINE_MQTT_BROKER_MAX_INFLIGHT`` says
what it is.

>>> IngestConfig().inflight_bound, IngestConfig(mqtt_protocol="3.1.1").inflight_bound
(20000, 20000)
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

from ingest.decode import DecodeLimits

MB = 1_048_576
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class IngestConfig:
    # MQTT
    mqtt_url: str = field(default="mqtt://127.0.0.1:1883", repr=False)  # may carry the broker password
    mqtt_client_id: str = "faultline-ingest"
    mqtt_topic_prefix: str = "devices"
    mqtt_shared_group: str = ""
    mqtt_keepalive_s: int = 30
    mqtt_ca_file: str = ""
    mqtt_max_inflight: int = 20000
    mqtt_protocol: str = "5"  # or "3.1.1"
    mqtt_broker_max_inflight: int = 20000  # the bound over MQTT 3.1.1
    mqtt_max_packet_bytes: int = 1_048_576
    registry_authoritative: bool = False
    # decode
    max_payload_bytes: int = 262_144
    max_clock_skew_s: float = 300.0
    max_age_days: float = 365.0
    # batches, spool, inbox
    data_dir: Path = Path(".faultline")
    batch_size: int = 5000
    linger_ms: int = 200
    batch_max_mb: int = 8
    inbox_max_mb: int = 32
    spool_max_mb: int = 1024
    # completeness, counters, bounds
    gap_grace_s: float = 60.0
    stats_interval_s: float = 10.0
    max_metrics_per_device: int = 100
    metric_allowlist_file: str = ""
    deadletter_retention_days: float = 30.0
    deadletter_max_per_device: int = 1000
    deadletter_max_mb: int = 1024
    device_idle_days: float = 7.0
    # liveness
    stop_timeout_s: float = 20.0
    ready_stall_s: float = 60.0

    @classmethod
    def from_settings(cls, settings, **overrides) -> "IngestConfig":
        """The configuration from `faultline.settings.Settings` (same option names); overrides win."""
        values = {f.name: getattr(settings, f.name) for f in fields(cls)}
        values.update(overrides)
        return cls(**values)

    @property
    def topic_filter(self) -> str:
        """The subscription: ``<prefix>/#``, shared as ``$share/<group>/<prefix>/#`` when a group is set."""
        base = self.mqtt_topic_prefix.rstrip("/") + "/#"
        return f"$share/{self.mqtt_shared_group}/{base}" if self.mqtt_shared_group else base

    @property
    def inflight_bound(self) -> int:
        """Unacknowledged QoS 1 messages the broker sends at most (what batches are sized for)."""
        return self.mqtt_broker_max_inflight if self.mqtt_protocol == "3.1.1" else self.mqtt_max_inflight

    @property
    def decode_limits(self) -> DecodeLimits:
        return DecodeLimits(max_payload_bytes=self.max_payload_bytes,
                            max_skew_ms=int(self.max_clock_skew_s * 1000),
                            max_age_ms=int(self.max_age_days * DAY_MS))

    @property
    def idle_ms(self) -> int:
        return int(self.device_idle_days * DAY_MS)
