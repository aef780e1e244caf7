"""Message → batch: decode, route records, build lines, note dead letters and counts.

Runs on one thread (the pipeline thread); what it builds becomes durable as a
whole in the writer (`ingest.writer`) before any of its messages is acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.batch import Batch, SourceMessage
from ingest.deadletters import DeadLetter
from ingest.decode import DecodeError, DecodeLimits, decode_parts
from ingest.ledger import Ledger
from ingest.mqtt import Incoming
from ingest.points import line_for
from ingest.records import DeviceMeta, DeviceStatus
from ingest.registry import DeviceRegistry

SEQ_TOPICS = {"telemetry", "logs", "events"}


@dataclass(frozen=True, slots=True)
class MessageSource:
    """A message as the pipeline needs it (from MQTT, or a dead letter being replayed)."""

    topic: str
    payload: bytes
    received_ms: int


class Pipeline:
    def __init__(self, registry: DeviceRegistry, ledger: Ledger | None, prefix: str, limits: DecodeLimits):
        self.registry = registry
        self.ledger = ledger
        self.prefix = prefix
        self.limits = limits

    def add(self, batch: Batch, msg: Incoming | MessageSource) -> None:
        """Fold one message into `batch`."""
        if isinstance(msg, Incoming):
            batch.acks.append((msg.mid, msg.qos, msg.generation))
            if msg.dup:
                batch.stats[("redelivered", "", "")] += 1
        batch.messages += 1
        try:
            decoded = decode_parts(msg.topic, msg.payload, msg.received_ms, prefix=self.prefix,
                                   cohort_of=self.registry.cohort_of, limits=self.limits)
        except DecodeError as exc:
            self._dead(batch, msg, exc.device, [exc])
            return
        device, kind = decoded.device, decoded.kind
        errors = list(decoded.errors)
        first = len(batch.lines)
        for record in decoded.records:
            if isinstance(record, DeviceMeta):
                self.registry.note_meta(record)
                batch.metas.append(record)
                batch.records.append(record)
                continue
            if isinstance(record, DeviceStatus):
                batch.statuses.append(record)
            try:
                batch.lines.append(line_for(record))
            except ValueError as exc:
                errors.append(DecodeError("validate", "value", str(exc), device))
                continue
            batch.records.append(record)
            if self.ledger is not None and kind in SEQ_TOPICS and record.seq is not None:
                self.ledger.observe(device, kind, record.seq, msg.received_ms)
        firmware = self.registry.firmware_of(device)
        stored = len(batch.lines) - first
        if stored:
            batch.sources.append(SourceMessage(msg.topic, msg.payload, msg.received_ms, device, firmware,
                                               first, stored))
        if stored or (decoded.records and not errors):
            batch.stats[("stored", "", firmware)] += 1
        if decoded.skewed:
            batch.stats[("clock_skew", "ts_replaced", firmware)] += decoded.skewed
        if errors:
            self._dead(batch, msg, device, errors)

    def _dead(self, batch: Batch, msg, device: str | None, errors: list[DecodeError]) -> None:
        first = errors[0]
        reason = "; ".join(str(e) for e in errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
        firmware = self.registry.firmware_of(device)
        batch.dead.append(DeadLetter(msg.received_ms, msg.topic, msg.payload, first.stage, first.kind, reason,
                                     device, firmware or None))
        batch.stats[(first.stage, first.kind, firmware)] += 1
