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

from influx.line_protocol import encode_line, encode_series, escape_field_key, format_field_value
from ingest.records import Cohort, DeviceEvent, DeviceStatus, LogLine, Record, Telemetry

SUB_MS = 1_000_000
# What does not change from one reading of a device to the next, built once: the series key
# (measurement and escaped tags) per device and cohort, and the sorted, escaped field keys per
# set of metric names. Emptied when they grow past the bound. A reading's line is built before
# the field catalogue refuses names past a device's limit, so a device inventing names would fill
# the plans: only small name sets get a plan kept, and few of them (a fleet has few name sets).
_CACHE_LIMIT = 65_536
_PLAN_LIMIT = 1_024  # name sets with a plan kept (at most 64 names each: a few MB at worst)
_PLAN_NAMES = 64
_series: dict[tuple[str, Cohort], str] = {}
_field_plans: dict[tuple[tuple[str, ...], bool], tuple[tuple[str | None, str], ...]] = {}


def _time_ns(ts_ms: int, seq: int | None, content: str) -> int:
    offset = seq % SUB_MS if seq is not None else zlib.crc32(content.encode()) % SUB_MS
    return ts_ms * SUB_MS + offset


def _telemetry(r: Telemetry) -> str:
    """The same line as `encode_line` writes, from the device's cached series key and field plan."""
    series = _series.get((r.device, r.cohort)) or _telemetry_series(r.device, r.cohort)
    metrics, seq = r.metrics, r.seq
    plan = _field_plans.get((tuple(metrics), seq is not None)) or _field_plan(tuple(metrics), seq is not None)
    parts = []
    for name, key in plan:
        value = metrics[name] if name is not None else seq
        if type(value) is float and value - value == 0.0:  # finite float: repr without a trailing .0
            text = repr(value)
            parts.append(key + (text[:-2] if text[-2:] == ".0" else text))
        else:
            parts.append(key + format_field_value(value))
    content = "" if seq is not None else repr(sorted(metrics.items()))
    return f"{series} {','.join(parts)} {_time_ns(r.ts_ms, seq, content)}"


def _telemetry_series(device: str, cohort: Cohort) -> str:
    if len(_series) >= _CACHE_LIMIT:
        _series.clear()
    tags = {"device": device, "model": cohort.model, "firmware": cohort.firmware, "site": cohort.site}
    series = _series[(device, cohort)] = encode_series("telemetry", tags)
    return series


def _field_plan(names: tuple[str, ...], with_seq: bool) -> tuple[tuple[str | None, str], ...]:
    """(metric name or None for seq, escaped key and '=') in the order `encode_line` writes fields."""
    if not names and not with_seq:
        raise ValueError("a point needs at least one field")
    keyed = [(name, name) for name in names if not (with_seq and name == "seq")] + ([("seq", None)] if with_seq else [])
    plan = tuple((name, escape_field_key(raw) + "=") for raw, name in sorted(keyed, key=lambda k: k[0]))
    if len(names) <= _PLAN_NAMES:
        if len(_field_plans) >= _PLAN_LIMIT:
            _field_plans.clear()
        _field_plans[(names, with_seq)] = plan
    return plan


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
