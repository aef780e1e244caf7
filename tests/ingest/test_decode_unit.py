"""Decoding device messages without services: every payload kind, the limits, and the reason of every rejection.

The (stage, kind) of a `DecodeError` is what the dead-letter store records
(`DeadLetter.stage`, `DeadLetter.reason_kind`), so each bad input is checked
against that pair.
"""

from __future__ import annotations

import pytest

from ingest.decode import DecodeError, DecodeLimits, decode_message, decode_parts, parse_topic
from ingest.records import Cohort, DeviceEvent, DeviceMeta, DeviceStatus, LogLine, Telemetry

NOW = 1_700_000_000_000
T = "devices/pump-1/"


def decode(kind: str, payload: bytes, **options):
    return decode_parts(T + kind, payload, NOW, **options)


@pytest.mark.parametrize("topic, prefix, expected", [
    ("devices/pump-1/telemetry", "devices", ("pump-1", "telemetry")),
    ("devices/px200_0042.a:b/logs", "devices", ("px200_0042.a:b", "logs")),
    ("t1/devices/pump-1/events", "t1/devices", ("pump-1", "events")),
    ("t1/devices/pump-1/meta", "t1/devices/", ("pump-1", "meta")),
    ("devices/" + "d" * 64 + "/status", "devices", ("d" * 64, "status")),
])
def test_contract_topics_give_device_and_kind(topic, prefix, expected):
    assert parse_topic(topic, prefix) == expected


@pytest.mark.parametrize("topic, says", [
    ("other/pump-1/telemetry", "outside the prefix"),
    ("devices/pump-1", "is not devices/{device}/{kind}"),
    ("devices/pump-1/telemetry/extra", "is not devices/{device}/{kind}"),
    ("devices/bad id/logs", "does not match"),
    ("devices/" + "d" * 65 + "/logs", "does not match"),
    ("devices//logs", "does not match"),
    ("devices/pump-1/firmware", "unknown topic kind"),
])
def test_bad_topics_are_validate_topic(topic, says):
    with pytest.raises(DecodeError) as err:
        parse_topic(topic)
    assert (err.value.stage, err.value.kind) == ("validate", "topic")
    assert says in str(err.value)


@pytest.mark.parametrize("kind, payload, expected", [
    ("telemetry", b'{"ts": 1700000000, "seq": 4, "metrics": {"temp_c": 41, "ok": true, "v": 0.5}}',
     Telemetry("pump-1", 1_700_000_000_000, 4, {"temp_c": 41.0, "ok": 1.0, "v": 0.5})),
    ("telemetry", b'{"metrics": {"off": false}}', Telemetry("pump-1", NOW, None, {"off": 0.0})),
    ("logs", b'{"ts": 1700000000123, "seq": 1, "level": "ERROR", "component": "motor", "code": "E214", "msg": "stall"}',
     LogLine("pump-1", 1_700_000_000_123, 1, "ERROR", "motor", "E214", "stall")),
    ("logs", b'{"level": "INFO", "msg": "boot"}', LogLine("pump-1", NOW, None, "INFO", "", "", "boot")),
    ("events", b'{"ts": "2023-11-14T22:13:20Z", "type": "fault", "severity": "major", "code": "E214", "detail": {"rpm": 0}}',
     DeviceEvent("pump-1", 1_700_000_000_000, None, "fault", "E214", "major", '{"rpm":0}')),
    ("events", b'{"type": "reboot"}', DeviceEvent("pump-1", NOW, None, "reboot", "", "", "")),
    ("meta", b'{"model": "PX-200", "firmware": "2.1.0", "site": "sh-03", "rack": 7}',
     DeviceMeta("pump-1", NOW, "PX-200", "2.1.0", "sh-03", extra={"rack": "7"})),
    ("status", b"online", DeviceStatus("pump-1", NOW, True)),
    ("status", b'"offline"', DeviceStatus("pump-1", NOW, False)),
])
def test_every_payload_kind_decodes_to_its_record(kind, payload, expected):
    assert decode_message(T + kind, payload, NOW) == [expected]


@pytest.mark.parametrize("kind, payload", [("status", b""), ("status", b"  "), ("meta", b""), ("meta", b"\n")])
def test_cleared_retained_status_and_meta_are_no_records_and_no_error(kind, payload):
    decoded = decode(kind, payload)
    assert (decoded.records, decoded.errors) == ([], [])


def test_records_carry_the_cohort_of_their_device():
    cohort = Cohort("PX-200", "2.1.0", "sh-03")
    [record] = decode_message(T + "logs", b'{"level": "WARN", "msg": "hot"}', NOW, cohort_of=lambda d: cohort)
    assert record.cohort == cohort


def test_a_batch_array_keeps_its_good_items_and_names_each_bad_one():
    payload = b'[{"metrics": {"a": 1}}, {"metrics": {"a": "x"}}, {"metrics": {"a": 3}}, 7]'
    decoded = decode("telemetry", payload)
    assert [r.metrics["a"] for r in decoded.records] == [1.0, 3.0]
    assert [str(e).split(":")[0] for e in decoded.errors] == ["batch item 1", "batch item 3"]
    with pytest.raises(DecodeError, match="batch item 1"):
        decode_message(T + "telemetry", payload, NOW)


# whole-message rejections: (topic kind, payload, limits) -> (stage, reason kind, words of the reason)
SMALL = DecodeLimits(max_payload_bytes=64, max_batch=2, max_metrics=2, max_name_len=8, max_tag_len=8,
                     max_msg_len=8, max_detail_bytes=16)


@pytest.mark.parametrize("kind, payload, limits, stage, reason, says", [
    ("telemetry", b"x" * 65, SMALL, "decode", "size", "exceeds the limit of 64"),
    ("status", b"o" * 65, SMALL, "decode", "size", "exceeds the limit of 64"),
    ("telemetry", b"", DecodeLimits(), "decode", "json", "empty payload"),
    ("telemetry", b"{not json", DecodeLimits(), "decode", "json", "invalid JSON"),
    ("logs", b'{"msg": "\xff\xfe"}', DecodeLimits(), "decode", "utf8", "invalid JSON"),
    ("telemetry", b"[]", DecodeLimits(), "validate", "schema", "empty batch array"),
    ("telemetry", b'[{"metrics": {"a": 1}}, {"metrics": {"a": 1}}, {"metrics": {"a": 1}}]', DecodeLimits(max_batch=2),
     "validate", "size", "batch of 3 items exceeds the limit of 2"),
    ("status", b"maybe", DecodeLimits(), "validate", "schema", "status must be online or offline"),
    ("meta", b"[1]", DecodeLimits(), "validate", "schema", "meta must be a JSON object"),
])
def test_whole_message_rejections(kind, payload, limits, stage, reason, says):
    with pytest.raises(DecodeError) as err:
        decode(kind, payload, limits=limits)
    assert (err.value.stage, err.value.kind, err.value.device) == (stage, reason, "pump-1")
    assert says in str(err.value)
    assert err.value.reason == f"{reason}: {err.value}"


@pytest.mark.parametrize("kind, payload, reason, says", [
    ("telemetry", b'"just a string"', "schema", "telemetry must be a JSON object, got str"),
    ("telemetry", b'{"metrics": {}}', "schema", "metrics must be a non-empty JSON object"),
    ("telemetry", b'{"metrics": [1, 2]}', "schema", "metrics must be a non-empty JSON object"),
    ("telemetry", b'{"metrics": {"a": 1, "b": 2, "c": 3}}', "size", "3 metrics exceed the limit of 2"),
    ("telemetry", b'{"metrics": {"seq": 1}}', "schema", "metric name 'seq' is reserved"),
    ("telemetry", b'{"metrics": {"much_too_long": 1}}', "schema", "must be 1-8 printable characters"),
    ("telemetry", b'{"metrics": {"a\\tb": 1}}', "schema", "must be 1-8 printable characters"),
    ("telemetry", b'{"metrics": {"a": "hot"}}', "schema", "metric 'a' must be a number or boolean, got str"),
    ("telemetry", b'{"metrics": {"a": null}}', "schema", "metric 'a' must be a number or boolean, got NoneType"),
    ("telemetry", b'{"seq": -1, "metrics": {"a": 1}}', "schema", "seq must be a non-negative integer"),
    ("telemetry", b'{"seq": 1.5, "metrics": {"a": 1}}', "schema", "seq must be a non-negative integer"),
    ("telemetry", b'{"seq": true, "metrics": {"a": 1}}', "schema", "seq must be a non-negative integer"),
    ("telemetry", b'{"ts": "yesterday", "metrics": {"a": 1}}', "range", "is not RFC 3339"),
    ("telemetry", b'{"ts": -5, "metrics": {"a": 1}}', "range", "is negative"),
    ("logs", b'{"msg": "x"}', "schema", "level must be one of"),
    ("logs", b'{"level": "LOUD", "msg": "x"}', "schema", "level must be one of"),
    ("logs", b'{"level": "INFO"}', "schema", "missing required key 'msg'"),
    ("logs", b'{"level": "INFO", "msg": 5}', "schema", "msg must be a string, got int"),
    ("logs", b'{"level": "INFO", "msg": "123456789"}', "size", "msg is 9 characters, over the limit of 8"),
    ("logs", b'{"level": "INFO", "msg": "x", "component": "a\\\\"}', "schema", "cannot be a tag value"),
    ("logs", b'{"level": "INFO", "msg": "x", "component": "a\\nb"}', "schema", "contains control characters"),
    ("events", b'{"code": "E1"}', "schema", "type must be one of"),
    ("events", b'{"type": "fault"}', "schema", "severity must be one of"),
    ("events", b'{"type": "reboot", "severity": "huge"}', "schema", "severity must be one of"),
    ("events", b'{"type": "reboot", "detail": "0123456789abcdefg"}', "size", "over the limit of 16"),
    ("meta", b'{"model": 200}', "schema", "model must be a string, got int"),
    ("meta", b'{"rack": [1]}', "schema", "meta attribute 'rack' must be a short scalar"),
    ("meta", b'{"rack": "123456789"}', "schema", "meta attribute 'rack' must be a short scalar"),
    ("meta", b'{"site": "a\\u0000"}', "schema", "contains control characters"),
])
def test_record_rejections_are_validate_errors_naming_the_problem(kind, payload, reason, says):
    with pytest.raises(DecodeError) as err:
        decode_message(T + kind, payload, NOW, limits=SMALL)
    assert (err.value.stage, err.value.kind) == ("validate", reason)
    assert says in str(err.value)


@pytest.mark.parametrize("number", [b"1e309", b"-1e309", b"NaN", b"Infinity"])
def test_non_finite_metrics_are_refused_as_invalid_json(number):
    with pytest.raises(DecodeError) as err:
        decode_message(T + "telemetry", b'{"metrics": {"a": %s}}' % number, NOW)
    assert (err.value.stage, err.value.kind) == ("decode", "json")


@pytest.mark.parametrize("ts, stored, skewed", [
    (NOW // 1000, NOW, 0),  # seconds
    (NOW - 1000, NOW - 1000, 0),  # milliseconds
    (NOW + 400_000, NOW, 1),  # 400 s ahead of the receipt time: more than the 300 s allowed
    (NOW + 200_000, NOW + 200_000, 0),
    (NOW - 366 * 86_400_000, NOW, 1),  # older than a year
])
def test_device_clock_skew_is_replaced_by_receipt_time_and_counted(ts, stored, skewed):
    decoded = decode("telemetry", b'{"ts": %d, "metrics": {"a": 1}}' % ts)
    assert (decoded.records[0].ts_ms, decoded.skewed, decoded.errors) == (stored, skewed, [])
