"""Message → batch: decode, route records, build lines, note dead letters and counts.

Runs on one thread (the pipeline thread); what it builds becomes durable as a
whole in the writer (`ingest.writer`) before any of its messages is acknowledged.
`add` never raises: a message that trips an unexpected failure is rolled out
of the batch and dead-lettered (stage ``ingest``, reason ``internal``) with
the error, so it is neither lost nor able to stop the pipeline.

A retained message the broker sent again on a reconnect (MQTT 3.1.1,
`Incoming.replayed`) is stored as any message (a reading with ``ts`` lands
on the point it made the first time) but not counted again: the ledger does
not see its ``seq`` and the detectors do not see its records, but for a
``meta`` (the same cohort again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ingest.batch import Batch, SourceMessage
from ingest.deadletters import DeadLetter
from ingest.decode import DecodeError, DecodeLimits, decode_parts
from ingest.fields import FieldCatalogue
from ingest.ledger import Ledger
from ingest.mqtt import Incoming
from ingest.points import line_for
from ingest.records import DeviceMeta, DeviceStatus, Telemetry
from ingest.registry import DeviceRegistry

SEQ_TOPICS = {"telemetry", "logs", "events"}
log = logging.getLogger("faultline.ingest")


@dataclass(frozen=True, slots=True)
class MessageSource:
    """A message as the pipeline needs it (from MQTT, or a dead letter being replayed)."""

    topic: str
    payload: bytes
    received_ms: int


class Pipeline:
    def __init__(self, registry: DeviceRegistry, ledger: Ledger | None, prefix: str, limits: DecodeLimits,
                 fields: FieldCatalogue | None = None):
        self.registry = registry
        self.ledger = ledger
        self.prefix = prefix
        self.limits = limits
        self.fields = fields
        self.failures = 0

    def add(self, batch: Batch, msg: Incoming | MessageSource) -> None:
        """Fold one message into `batch` (never raises)."""
        marks = batch.marks()
        try:
            self._count(batch, msg)
            self._add(batch, msg)
        except Exception as exc:  # noqa: BLE001 - a bug must cost one message its storage, not the pipeline
            batch.rollback(marks)
            self.failures += 1
            if self.failures == 1 or self.failures % 1000 == 0:
                log.exception("internal failure on a message of %s (%d so far); dead-lettered", msg.topic[:120],
                              self.failures)
            try:
                self._count(batch, msg)
                self._dead(batch, msg, None, [DecodeError("ingest", "internal", f"{type(exc).__name__}: {exc}")])
            except Exception:  # noqa: BLE001 - not acknowledged: the broker delivers it again after a reconnect
                batch.rollback(marks)

    @staticmethod
    def _count(batch: Batch, msg: Incoming | MessageSource) -> None:
        if isinstance(msg, Incoming):
            batch.acks.append((msg.mid, msg.qos, msg.generation))
            if msg.dup:
                batch.stats[("redelivered", "", "")] += 1
            if msg.replayed:
                batch.stats[("redelivered", "retained", "")] += 1
        batch.messages += 1
        batch.bytes += len(msg.payload)

    def _add(self, batch: Batch, msg: Incoming | MessageSource) -> None:
        try:
            decoded = decode_parts(msg.topic, msg.payload, msg.received_ms, prefix=self.prefix,
                                   cohort_of=self.registry.cohort_of, limits=self.limits)
        except DecodeError as exc:
            self._dead(batch, msg, exc.device, [exc])
            return
        device, kind = decoded.device, decoded.kind
        errors = list(decoded.errors)
        first = len(batch.lines)
        counted = not (isinstance(msg, Incoming) and msg.replayed)
        for record in decoded.records:
            problem = self._route(batch, record, kind, msg.received_ms, counted)
            if problem is not None:
                errors.append(problem)
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

    def _route(self, batch: Batch, record, kind: str, received_ms: int, counted: bool = True) -> DecodeError | None:
        """Put one record into the batch (with ``counted``, for the ledger and the detectors too);
        the reason it was refused, if it was."""
        if isinstance(record, DeviceMeta):
            refused = self.registry.note_meta(record)
            if refused:  # stored and flagged by the registry; the cohort stays the registry's
                batch.stats[("meta_contradiction", refused, self.registry.firmware_of(record.device))] += 1
            batch.metas.append(record)
            if not refused:  # the detectors never see a refused cohort either
                batch.records.append(record)
            return None
        try:
            line = line_for(record)
        except ValueError as exc:
            return DecodeError("validate", "value", str(exc), record.device)
        if isinstance(record, Telemetry) and self.fields is not None:
            refused = self.fields.admit(record.device, record.cohort.model, record.metrics, received_ms)
            batch.fields.extend(self.fields.take_new())
            if refused:
                reason = self.fields.refusal(record.device, record.cohort.model, refused)
                return DecodeError("validate", "cardinality", reason, record.device)
        if isinstance(record, DeviceStatus):
            batch.statuses.append(record)
        batch.lines.append(line)
        if not counted:
            return None
        verdict = None
        if kind in SEQ_TOPICS and record.seq is not None:
            if self.ledger is not None:
                verdict = self.ledger.observe(record.device, kind, record.seq, received_ms)
            else:  # for the ledger of a pool of workers, once the batch is durable (`ingest.ledger_keeper`)
                batch.seqs.append((received_ms, record.seq, record.device, kind))
        if verdict != "duplicate":  # stored again (same point), but the detectors count each reading once
            batch.records.append(record)
        return None

    def _dead(self, batch: Batch, msg, device: str | None, errors: list[DecodeError]) -> None:
        first = errors[0]
        reason = "; ".join(str(e) for e in errors[:3]) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else "")
        firmware = self.registry.firmware_of(device)
        if len(msg.payload) > self.limits.max_payload_bytes:
            letter = DeadLetter.oversized(msg.received_ms, msg.topic, msg.payload, reason, device, firmware or None)
        else:
            letter = DeadLetter(msg.received_ms, msg.topic, msg.payload, first.stage, first.kind, reason,
                                device, firmware or None)
        batch.dead.append(letter)
        batch.stats[(first.stage, first.kind, firmware)] += 1
