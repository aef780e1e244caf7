"""Records from ingest to the detector shard that owns their device (``FAULTLINE_DETECTOR_HANDOFF=n``).

Without a handoff every `faultline detect --shard i/n` subscribes to the
device topics and receives the whole stream, so the detectors' ceiling is
one process's MQTT receive rate, whatever n is (docs/scaling.md). With it,
each ingest process (one or a worker of a pool) hands the records of a batch
it has made durable and acknowledged to the shards, grouped by owner: one
QoS 1 message per shard and batch, on ``faultline/handoff/{prefix}/{n}/{i}``
(``prefix``: the device topic prefix), holding
that shard's records (at most `MAX_RECORDS` a message). A shard subscribes
to its own topic with a persistent session of its own, so it receives its
part of the stream, batched; the shard that runs the cohort scan (shard 0 by
default) needs every device's activity and subscribes to ``.../{n}/+``.

Owner: `shard_of`, the stable hash every shard uses for the devices it runs.

When: a batch's messages are acknowledged once it is durable *and* the
broker has accepted every handoff message of it (QoS 1, PUBACK; nothing
waits for it: the acknowledgements go out when the last PUBACK comes). So
a record is handed on at least once: an ingest process killed before that
leaves the batch unacknowledged, the broker delivers it again and it is
handed on then. A pool's workers keep no completeness ledger of their own,
so a record can reach its shard twice. One process's ledger may have
counted the readings before the kill (it is saved every stats interval)
and then keeps their redelivery from the shards as duplicates, as it does
for `faultline run`'s own detectors. A handoff the broker refuses (its ACL)
is logged and counted, and the batch is acknowledged all the same: storing
never stops on the detectors. What is handed on is what `faultline run`
gives its in-process detectors: records of durable batches only (a message
dead-lettered, or a retained message the broker sent again over MQTT 3.1.1,
hands nothing on; a ``meta`` always does). The shard's broker session
queues its part while it restarts.

The payload is JSON: ``{"v": 1, "records": [...]}``, one array per record,
tagged by kind (`encode`). `decode` checks every field and raises
`HandoffError` on anything else: the topic is writable by Faultline's
service users only (the broker ACL), yet a shard must not trust a payload
it cannot read.

>>> from ingest.records import Cohort, Telemetry
>>> t = Telemetry("pump-7", 1_700_000_000_000, 42, {"temp_c": 21.5}, Cohort("PX-200", "2.1.0", "north"))
>>> decode(encode([t])) == [t]
True
>>> topic_of("devices", 2, 1), filter_of("devices", 2, 1, everything=True)
('faultline/handoff/devices/2/1', 'faultline/handoff/devices/2/+')
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Iterable

import orjson

from ingest.records import LEVELS, Cohort, DeviceEvent, DeviceMeta, DeviceStatus, LogLine, Record, Telemetry

ROOT = "faultline/handoff"
VERSION = 1
MAX_RECORDS = 2_000  # records per handoff message, and at most `Handoff.max_bytes`


class HandoffError(ValueError):
    """A handoff payload that is not what `encode` writes."""


def shard_of(device: str, shards: int) -> int:
    """A stable shard number for a device (FNV-1a, independent of Python's hash seed).

    >>> shard_of("px200-0001", 1), shard_of("px200-0001", 4) == shard_of("px200-0001", 4)
    (0, True)
    """
    h = 0xCBF29CE484222325
    for b in device.encode():
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h % shards


def topic_of(prefix: str, shards: int, shard: int) -> str:
    """The handoff topic of a shard; ``prefix`` is the device topic prefix (deployments on one broker stay apart)."""
    return f"{ROOT}/{prefix.strip('/')}/{shards}/{shard}"


def filter_of(prefix: str, shards: int, shard: int, everything: bool) -> str:
    """What shard ``shard`` of ``shards`` subscribes to: its own part, or every part (the cohort scan)."""
    return f"{ROOT}/{prefix.strip('/')}/{shards}/+" if everything else topic_of(prefix, shards, shard)


def _array(r: Record) -> list:
    if type(r) is Telemetry:
        c = r.cohort
        return ["t", r.device, r.ts_ms, r.seq, r.metrics, c.model, c.firmware, c.site]
    if type(r) is LogLine:
        c = r.cohort
        return ["l", r.device, r.ts_ms, r.seq, r.level, r.component, r.code, r.msg, c.model, c.firmware, c.site]
    if type(r) is DeviceEvent:
        c = r.cohort
        return ["e", r.device, r.ts_ms, r.seq, r.type, r.code, r.severity, r.detail, c.model, c.firmware, c.site]
    if type(r) is DeviceMeta:
        return ["m", r.device, r.ts_ms, r.model, r.firmware, r.site, r.hw_rev, r.customer, r.tier, r.extra]
    if type(r) is DeviceStatus:
        return ["s", r.device, r.ts_ms, r.online]
    raise TypeError(f"not a record: {type(r).__name__}")


HEAD = b'{"v":%d,"records":[' % VERSION
TAIL = b"]}"


def encode(records: Iterable[Record]) -> bytes:
    return HEAD + b",".join(orjson.dumps(_array(r)) for r in records) + TAIL


def _text(v) -> str:
    if type(v) is not str:
        raise HandoffError(f"expected text, got {type(v).__name__}")
    return v


def _int(v) -> int:
    if type(v) is not int:
        raise HandoffError(f"expected an integer, got {type(v).__name__}")
    return v


def _seq(v) -> int | None:
    return None if v is None else _int(v)


def _record(a) -> Record:
    if type(a) is not list or not a:
        raise HandoffError("a record is not a tagged array")
    kind, n = a[0], len(a)
    if kind == "t" and n == 8:
        metrics = a[4]
        if type(metrics) is not dict or not all(type(v) in (float, int) for v in metrics.values()):
            raise HandoffError("telemetry metrics must be an object of numbers")
        return Telemetry(_text(a[1]), _int(a[2]), _seq(a[3]), {k: float(v) for k, v in metrics.items()},
                         Cohort(_text(a[5]), _text(a[6]), _text(a[7])))
    if kind == "l" and n == 11:
        if a[4] not in LEVELS:
            raise HandoffError(f"log level {a[4]!r}")
        return LogLine(_text(a[1]), _int(a[2]), _seq(a[3]), a[4], _text(a[5]), _text(a[6]), _text(a[7]),
                       Cohort(_text(a[8]), _text(a[9]), _text(a[10])))
    if kind == "e" and n == 11:
        return DeviceEvent(_text(a[1]), _int(a[2]), _seq(a[3]), _text(a[4]), _text(a[5]), _text(a[6]),
                           _text(a[7]), Cohort(_text(a[8]), _text(a[9]), _text(a[10])))
    if kind == "m" and n == 10:
        extra = a[9]
        if type(extra) is not dict or not all(type(v) is str for v in extra.values()):
            raise HandoffError("meta extra must be an object of texts")
        return DeviceMeta(_text(a[1]), _int(a[2]), *(_text(v) for v in a[3:9]), extra=extra)
    if kind == "s" and n == 4:
        if type(a[3]) is not bool:
            raise HandoffError("status online must be true or false")
        return DeviceStatus(_text(a[1]), _int(a[2]), a[3])
    raise HandoffError(f"unknown record kind {str(kind)[:8]!r} with {n} fields")


def decode(payload: bytes) -> list[Record]:
    """The records of a handoff message; `HandoffError` if it is not one."""
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise HandoffError(f"not JSON: {exc}") from None
    if type(doc) is not dict or doc.get("v") != VERSION or type(doc.get("records")) is not list:
        raise HandoffError(f'expected {{"v": {VERSION}, "records": [...]}}')
    return [_record(a) for a in doc["records"]]


class Handoff:
    """The handoff of `ingest.service.IngestService`: a durable batch's records to the shards that own their devices.

    ``send(messages, acks)`` publishes ``(topic, payload)`` pairs at QoS 1 and acknowledges the batch's
    messages (``acks``) once the broker has accepted every one (`ingest.mqtt.Subscriber.publish_then_ack`).
    A message holds at most ``max_bytes`` (below the broker's and the shards' maximum packet size). A
    record too large for a message of its own is not handed on (counted in ``oversize``; it is stored
    all the same).

    >>> sent, acked = [], []
    >>> handoff = Handoff(2, lambda messages, acks: (sent.extend((t, len(decode(p))) for t, p in messages),
    ...                                               acked.extend(acks)))
    >>> handoff([DeviceStatus(f"pump-{k}", 0, True) for k in range(10)], [(7, 1, 1)])
    >>> sorted(sent), acked, handoff.records
    ([('faultline/handoff/devices/2/0', 5), ('faultline/handoff/devices/2/1', 5)], [(7, 1, 1)], 10)
    """

    def __init__(self, shards: int, send: Callable[[list[tuple[str, bytes]], list], None], prefix: str = "devices",
                 max_bytes: int = 1 << 19):
        if shards < 1:
            raise ValueError(f"shards must be at least 1, got {shards}")
        self.shards = shards
        self.send = send
        self.max_bytes = max_bytes
        self.topics = [topic_of(prefix, shards, i) for i in range(shards)]
        self._owner: dict[str, int] = {}
        self.records = 0
        self.messages = 0
        self.oversize = 0

    def owner(self, device: str) -> int:
        shard = self._owner.get(device)
        if shard is None:
            if len(self._owner) >= 1 << 20:
                self._owner.clear()
            shard = self._owner[device] = shard_of(device, self.shards)
        return shard

    def __call__(self, records: list[Record], acks: list) -> None:
        """Hand `records` on; `acks` are acknowledged once the broker has every message of it."""
        parts: dict[int, list[bytes]] = defaultdict(list)
        owner, dumps = self.owner, orjson.dumps
        for r in records:
            parts[owner(r.device)].append(dumps(_array(r)))
        messages = [m for shard, part in parts.items() for m in self._messages(self.topics[shard], part)]
        self.send(messages, acks)
        self.records += len(records)
        self.messages += len(messages)

    def _messages(self, topic: str, arrays: list[bytes]) -> list[tuple[str, bytes]]:
        budget = self.max_bytes - len(HEAD) - len(TAIL)
        out, chunk, size = [], [], 0
        for a in arrays:
            if len(a) + 1 > budget:
                self.oversize += 1
                continue
            if size + len(a) + 1 > budget or len(chunk) >= MAX_RECORDS:
                out.append((topic, HEAD + b",".join(chunk) + TAIL))
                chunk, size = [], 0
            chunk.append(a)
            size += len(a) + 1
        if chunk:
            out.append((topic, HEAD + b",".join(chunk) + TAIL))
        return out
