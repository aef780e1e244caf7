"""MQTT message → validated records, with a precise reason for every rejection.

The one place where device input is checked (DESIGN §2). Stages of a
rejection: ``decode`` (size, UTF-8, JSON) and ``validate`` (topic, schema,
vocabularies, ranges). A batch array is decoded item by item: good items are
kept, each bad one is reported with its index, so one corrupt reading does not
cost a device the other readings of its batch.

>>> recs = decode_message("devices/pump-1/telemetry", b'{"ts": 1700000000, "seq": 4, "metrics": {"temp_c": 41, "ok": true}}', 1700000000500)
>>> recs[0].ts_ms, recs[0].seq, dict(recs[0].metrics)
(1700000000000, 4, {'temp_c': 41.0, 'ok': 1.0})
>>> decode_message("devices/pump-1/telemetry", b'{"metrics": {"temp_c": "hot"}}', 0)
Traceback (most recent call last):
...
ingest.decode.DecodeError: metric 'temp_c' must be a number or boolean, got str
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

import orjson

from influx.line_protocol import escape_tag_value
from ingest.records import (
    EVENT_TYPES, LEVELS, SEVERITIES, UNKNOWN_COHORT, Cohort, DeviceEvent, DeviceMeta, DeviceStatus,
    LogLine, Record, Telemetry,
)
from ingest.timestamps import TimestampError, apply_skew_rule, parse_ts

DEVICE_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")
KINDS = ("telemetry", "logs", "events", "meta", "status")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
RESERVED_METRICS = frozenset({"time", "seq", "device", "model", "firmware", "site"})  # clash with fields or tags
META_KEYS = ("model", "firmware", "site", "hw_rev", "customer", "tier")
_GOOD_NAMES: dict[str, bool] = {}  # metric names that passed `metric_name_problem` at the default length


class DecodeError(ValueError):
    """Why a message (or one batch item) was rejected.

    ``kind`` is a short reason code for counting (``topic``, ``size``,
    ``utf8``, ``json``, ``schema``, ``range``); the message is the full reason.
    """

    def __init__(self, stage: str, kind: str, detail: str, device: str | None = None):
        super().__init__(detail)
        self.stage = stage
        self.kind = kind
        self.device = device

    @property
    def reason(self) -> str:
        return f"{self.kind}: {self}"


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    max_payload_bytes: int = 262_144
    max_batch: int = 10_000
    max_metrics: int = 256
    max_name_len: int = 128
    max_tag_len: int = 256
    max_msg_len: int = 16_384
    max_detail_bytes: int = 16_384
    max_skew_ms: int = 300_000
    max_age_ms: int = 365 * 86_400_000


@dataclass(frozen=True, slots=True)
class Decoded:
    device: str | None
    kind: str | None
    records: list[Record] = field(default_factory=list)
    errors: list[DecodeError] = field(default_factory=list)
    skewed: int = 0  # records stored at receipt time because the device clock was off


def parse_topic(topic: str, prefix: str = "devices") -> tuple[str, str]:
    """(device, kind) of a contract topic.

    >>> parse_topic("devices/px200-0042/logs")
    ('px200-0042', 'logs')
    >>> parse_topic("devices/bad id/logs")
    Traceback (most recent call last):
    ...
    ingest.decode.DecodeError: device id 'bad id' does not match [A-Za-z0-9_.:-]{1,64}
    """
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head):
        raise DecodeError("validate", "topic", f"topic {topic[:200]!r} is outside the prefix {prefix!r}")
    parts = topic[len(head):].split("/")
    if len(parts) != 2:
        raise DecodeError("validate", "topic", f"topic {topic[:200]!r} is not {head}{{device}}/{{kind}}")
    device, kind = parts
    if not DEVICE_RE.match(device):
        raise DecodeError("validate", "topic", f"device id {device[:80]!r} does not match [A-Za-z0-9_.:-]{{1,64}}")
    if kind not in KINDS:
        raise DecodeError("validate", "topic", f"unknown topic kind {kind[:40]!r}; expected one of {', '.join(KINDS)}", device)
    return device, kind


def decode_parts(topic: str, payload: bytes, received_ms: int, *, prefix: str = "devices",
                 cohort_of: Callable[[str], Cohort] = lambda d: UNKNOWN_COHORT,
                 limits: DecodeLimits = DecodeLimits()) -> Decoded:
    """Decode one message; whole-message problems raise, batch-item problems are listed."""
    device, kind = parse_topic(topic, prefix)
    if len(payload) > limits.max_payload_bytes:
        raise DecodeError("decode", "size", f"payload of {len(payload)} bytes exceeds the limit of {limits.max_payload_bytes}", device)
    if kind == "status":
        return Decoded(device, kind, _status(device, payload, received_ms))
    if not payload.strip():
        if kind == "meta":  # clearing a retained message is not data
            return Decoded(device, kind)
        raise DecodeError("decode", "json", "empty payload", device)
    doc = _load_json(payload, device)
    if kind == "meta":
        return Decoded(device, kind, [_meta(device, doc, received_ms, limits)])
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise DecodeError("validate", "schema", "empty batch array", device)
    if len(items) > limits.max_batch:
        raise DecodeError("validate", "size", f"batch of {len(items)} items exceeds the limit of {limits.max_batch}", device)
    cohort = cohort_of(device)
    build = _BUILDERS[kind]
    records, errors, skewed = [], [], 0
    for index, item in enumerate(items):
        try:
            record, was_skewed = build(device, item, received_ms, cohort, limits)
        except DecodeError as exc:
            if len(items) > 1:
                exc = DecodeError(exc.stage, exc.kind, f"batch item {index}: {exc}", device)
            errors.append(exc)
            continue
        records.append(record)
        skewed += was_skewed
    return Decoded(device, kind, records, errors, skewed)


def decode_message(topic: str, payload: bytes, received_ms: int, **options) -> list[Record]:
    """Strict form of `decode_parts`: any rejected item raises its `DecodeError`."""
    decoded = decode_parts(topic, payload, received_ms, **options)
    if decoded.errors:
        raise decoded.errors[0]
    return decoded.records


def _load_json(payload: bytes, device: str):
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        text = str(exc)
        kind = "utf8" if "UTF-8" in text or "surrogate" in text else "json"
        raise DecodeError("decode", kind, f"invalid JSON: {text}", device) from None


def _fail(device: str, detail: str, kind: str = "schema") -> DecodeError:
    return DecodeError("validate", kind, detail, device)


def _object(device: str, item, what: str) -> dict:
    if not isinstance(item, dict):
        raise _fail(device, f"{what} must be a JSON object, got {type(item).__name__}")
    return item


def _time_and_seq(device: str, item: dict, received_ms: int, limits: DecodeLimits) -> tuple[int, int | None, bool]:
    try:
        ts = parse_ts(item.get("ts"))
    except TimestampError as exc:
        raise _fail(device, str(exc), "range") from None
    ts_ms, skewed = apply_skew_rule(ts, received_ms, limits.max_skew_ms, limits.max_age_ms)
    seq = item.get("seq")
    if seq is not None and (type(seq) is not int or not 0 <= seq < 2**63):
        raise _fail(device, f"seq must be a non-negative integer, got {str(seq)[:40]!r}")
    return ts_ms, seq, skewed


def _text(device: str, item: dict, key: str, limit: int, *, required: bool = False, tag: bool = False) -> str:
    value = item.get(key)
    if value is None:
        if required:
            raise _fail(device, f"missing required key {key!r}")
        return ""
    if not isinstance(value, str):
        raise _fail(device, f"{key} must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise _fail(device, f"{key} is {len(value)} characters, over the limit of {limit}", "size")
    if tag:
        _check_tag_value(device, key, value)
    return value


def tag_value_problem(value: str) -> str | None:
    r"""Why `value` cannot be a tag value, or None: the one rule for tag values and meta values
    (which become tags): no control characters, nothing line protocol cannot carry.

    >>> tag_value_problem("2.1.0"), tag_value_problem("2.1.0\\"), tag_value_problem("a\nb")
    (None, 'it ends with a backslash', 'it contains control characters')
    """
    if _CONTROL.search(value):
        return "it contains control characters"
    if value:
        try:
            escape_tag_value(value)
        except ValueError:
            return "it ends with a backslash"
    return None


def _check_tag_value(device: str, key: str, value: str) -> None:
    problem = tag_value_problem(value)
    if problem:
        raise _fail(device, f"{key} {value[:40]!r} cannot be a tag value: {problem}")


def _choice(device: str, item: dict, key: str, allowed: tuple[str, ...], *, required: bool) -> str:
    value = item.get(key)
    if value is None and not required:
        return ""
    if value not in allowed:
        raise _fail(device, f"{key} must be one of {'|'.join(allowed)}, got {str(value)[:40]!r}")
    return value


def _telemetry(device, item, received_ms, cohort, limits):
    item = _object(device, item, "telemetry")
    ts_ms, seq, skewed = _time_and_seq(device, item, received_ms, limits)
    metrics = item.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise _fail(device, "metrics must be a non-empty JSON object")
    if len(metrics) > limits.max_metrics:
        raise _fail(device, f"{len(metrics)} metrics exceed the limit of {limits.max_metrics}", "size")
    values = {}
    for name, value in metrics.items():
        if len(name) > limits.max_name_len or name not in _GOOD_NAMES:
            problem = metric_name_problem(name, limits.max_name_len)
            if problem:
                raise _fail(device, problem)
            if len(_GOOD_NAMES) >= 65_536:
                _GOOD_NAMES.clear()
            _GOOD_NAMES[name] = True
        values[name] = _metric_value(device, name, value)
    return Telemetry(device, ts_ms, seq, values, cohort), skewed


def metric_name_problem(name: str, max_len: int = 128) -> str | None:
    r"""Why `name` cannot be a metric name, or None (ingest and the API's metric filter share this rule).

    >>> metric_name_problem("temp_c"), metric_name_problem("seq"), metric_name_problem("a\nb")
    (None, "metric name 'seq' is reserved", "metric name 'a\\nb' must be 1-128 printable characters")
    """
    if not name or len(name) > max_len or _CONTROL.search(name):
        return f"metric name {name[:40]!r} must be 1-{max_len} printable characters"
    if name in RESERVED_METRICS:
        return f"metric name {name!r} is reserved"
    return None


def _metric_value(device: str, name: str, value) -> float:
    if type(value) is float:
        if math.isfinite(value):
            return value
        raise _fail(device, f"metric {name!r} is not finite", "range")
    if type(value) is bool:
        return 1.0 if value else 0.0
    if type(value) is int:
        number = float(value)  # orjson bounds ints to 64 bits, always finite here
        return number
    raise _fail(device, f"metric {name!r} must be a number or boolean, got {type(value).__name__}")


def _log(device, item, received_ms, cohort, limits):
    item = _object(device, item, "log line")
    ts_ms, seq, skewed = _time_and_seq(device, item, received_ms, limits)
    level = _choice(device, item, "level", LEVELS, required=True)
    component = _text(device, item, "component", limits.max_tag_len, tag=True)
    code = _text(device, item, "code", limits.max_tag_len)
    msg = _text(device, item, "msg", limits.max_msg_len, required=True)
    return LogLine(device, ts_ms, seq, level, component, code, msg, cohort), skewed


def _event(device, item, received_ms, cohort, limits):
    item = _object(device, item, "event")
    ts_ms, seq, skewed = _time_and_seq(device, item, received_ms, limits)
    etype = _choice(device, item, "type", EVENT_TYPES, required=True)
    severity = _choice(device, item, "severity", SEVERITIES, required=etype == "fault")
    code = _text(device, item, "code", limits.max_tag_len)
    detail = item.get("detail")
    detail_text = "" if detail is None else orjson.dumps(detail).decode()
    if len(detail_text) > limits.max_detail_bytes:
        raise _fail(device, f"detail is {len(detail_text)} bytes, over the limit of {limits.max_detail_bytes}", "size")
    return DeviceEvent(device, ts_ms, seq, etype, code, severity, detail_text, cohort), skewed


def _meta(device: str, doc, received_ms: int, limits: DecodeLimits) -> DeviceMeta:
    doc = _object(device, doc, "meta")
    known = {key: _text(device, doc, key, limits.max_tag_len, tag=True) for key in META_KEYS}
    extra = {}
    for key, value in doc.items():
        if key in META_KEYS:
            continue
        if not isinstance(value, (str, int, float, bool)) or len(str(value)) > limits.max_tag_len or len(key) > limits.max_name_len:
            raise _fail(device, f"meta attribute {key[:40]!r} must be a short scalar")
        _check_tag_value(device, f"meta attribute {key[:40]!r}", str(value))
        extra[key] = str(value)
    return DeviceMeta(device, received_ms, extra=extra, **known)


def _status(device: str, payload: bytes, received_ms: int) -> list[Record]:
    text = payload.strip()
    if not text:
        return []  # retained status cleared
    if text in (b"online", b'"online"'):
        return [DeviceStatus(device, received_ms, True)]
    if text in (b"offline", b'"offline"'):
        return [DeviceStatus(device, received_ms, False)]
    raise DecodeError("validate", "schema", f"status must be online or offline, got {payload[:40]!r}", device)


_BUILDERS = {"telemetry": _telemetry, "logs": _log, "events": _event}
