"""Records → line protocol, per the storage schema (DESIGN §3).

Timestamps are written in nanoseconds: the record's millisecond time plus an
offset below one millisecond taken from ``seq`` (or, without ``seq``, from a
checksum of the content). Two different messages stamped with the same
millisecond stay two points, while a redelivered message (same ``seq``, same
content) lands on the same point and overwrites it: duplicates never add points.

>>> from ingest.records import Cohort, LogLine
>>> line_for(LogLine("d1", 1700000000000, 5, "ERROR", "motor", "E214", "overcurrent", Cohort("PX-200", "2.1.0", "sh-03")))
'device_logs,component=motor,device=d1,firmware=2.1.0,level=ERROR,model=PX-200,site=sh-03 code="E214",msg="overcurrent",seq=5i 1700000000000000005'
"""

from __future__ import annotations

import zlib

from influx.line_protocol import encode_line
from ingest.records import DeviceEvent, DeviceStatus, LogLine, Record, Telemetry

SUB_MS = 1_000_000


def _time_ns(ts_ms: int, seq: int | None, content: str) -> int:
    offset = seq % SUB_MS if seq is not None else zlib.crc32(content.encode()) % SUB_MS
    return ts_ms * SUB_MS + offset


def _telemetry(r: Telemetry) -> str:
    fields = dict(r.metrics)
    if r.seq is not None:
        fields["seq"] = r.seq
    tags = {"device": r.device, "model": r.cohort.model, "firmware": r.cohort.firmware, "site": r.cohort.site}
    content = "" if r.seq is not None else repr(sorted(r.metrics.items()))
    return encode_line("telemetry", tags, fields, _time_ns(r.ts_ms, r.seq, content))


def _log(r: LogLine) -> str:
    fields = {"msg": r.msg, "code": r.code}
    if r.seq is not None:
        fields["seq"] = r.seq
    tags = {"device": r.device, "level": r.level, "component": r.component,
            "model": r.cohort.model, "firmware": r.cohort.firmware, "site": r.cohort.site}
    return encode_line("device_logs", tags, fields, _time_ns(r.ts_ms, r.seq, r.code + "\0" + r.msg))


def _event(r: DeviceEvent) -> str:
    fields = {"code": r.code, "detail": r.detail}
    if r.seq is not None:
        fields["seq"] = r.seq
    tags = {"device": r.device, "type": r.type, "severity": r.severity,
            "model": r.cohort.model, "firmware": r.cohort.firmware, "site": r.cohort.site}
    return encode_line("device_events", tags, fields, _time_ns(r.ts_ms, r.seq, r.code + "\0" + r.detail))


def _status(r: DeviceStatus) -> str:
    return encode_line("device_status", {"device": r.device}, {"online": 1.0 if r.online else 0.0}, r.ts_ms * SUB_MS)


_ENCODERS = {Telemetry: _telemetry, LogLine: _log, DeviceEvent: _event, DeviceStatus: _status}


def line_for(record: Record) -> str | None:
    """The line for a record, or None for records kept only in SQL (meta).

    Raises ValueError for a value InfluxDB cannot store (the caller dead-letters it).
    """
    encoder = _ENCODERS.get(type(record))
    return encoder(record) if encoder else None
