"""Hostile payloads mixed with valid ones: no crash, valid ones stored byte-exact,
bad ones dead-lettered with a reason, no neighbour corrupted.

100 examples × 100 messages = 10,000 generated messages per run.
"""

from __future__ import annotations

import hashlib
import itertools
import time

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from faultline.settings import load_settings
from influx.line_protocol import escape_field_key, escape_tag_value
from influx.client import InfluxClient
from ingest import deadletters
from ingest.deadletters import OVERSIZED_HEAD
from faultline.wiring import ingest_service
from support.publishing import publish_all
from support.waiting import wait_until

MAX_PAYLOAD = 8192
META = set(',= "\\\'\n\r\t')
example_ids = itertools.count()
NOW_S = int(time.time())
PREFIX = "hostile/devices"  # its own prefix: retained messages of other tests never reach it

any_text = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(sorted(META)), max_size=40)


def storable(escape):
    """Names line protocol can carry (the encoder's rules are checked name by name against
    the server in tests/influx); the others are dead-lettered, as the hostile cases show."""
    def check(text: str) -> bool:
        try:
            escape(text)
        except ValueError:
            return False
        return True
    return check


tag_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(list(',= "\'\\')),
                   min_size=1, max_size=30).filter(storable(escape_tag_value))
metric_name = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from(list(',= "\'\\')),
                      min_size=1, max_size=30).filter(storable(escape_field_key)).filter(
    lambda s: s not in {"time", "seq", "device", "model", "firmware", "site"})
number = st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(2**63), 2**63 - 1) | st.booleans()


@st.composite
def valid_message(draw, device: str):
    kind = draw(st.sampled_from(["telemetry", "logs", "events"]))
    ts = NOW_S - draw(st.integers(0, 86_400))
    if kind == "telemetry":
        body = {"ts": ts, "seq": 1, "metrics": draw(st.dictionaries(metric_name, number, min_size=1, max_size=5))}
    elif kind == "logs":
        body = {"ts": ts, "seq": 1, "level": draw(st.sampled_from(["DEBUG", "INFO", "WARN", "ERROR", "FATAL"])),
                "component": draw(tag_text), "code": draw(any_text), "msg": draw(any_text)}
    else:
        body = {"ts": ts, "seq": 1, "type": "fault", "severity": draw(st.sampled_from(["minor", "major", "critical"])),
                "code": draw(any_text), "detail": {"note": draw(any_text)}}
    return f"{PREFIX}/{device}/{kind}", orjson.dumps(body), body


def _corrupt(valid: bytes, how: str, cut: int) -> bytes:
    return {
        "truncated": valid[: max(1, min(cut, len(valid) - 1))],
        "nan": b'{"seq": 1, "metrics": {"a": NaN}}',
        "inf": b'{"seq": 1, "metrics": {"a": 1e999}}',
        "deep": b'{"type": "fault", "severity": "minor", "detail": ' + b"[" * 3000 + b"]" * 3000 + b"}",
        "utf8": b'{"level": "INFO", "msg": "bad \xff\xfe byte"}',
        "oversized": orjson.dumps({"level": "INFO", "msg": "x" * (MAX_PAYLOAD + 10)}),
        "wrong_type": b'{"seq": "one", "metrics": {"a": 1}}',
        "wrong_value": b'{"metrics": {"a": "hot"}}',
        "empty_metrics": b'{"metrics": {}}',
        "level": b'{"level": "LOUD", "msg": "x"}',
        "control_tag": orjson.dumps({"level": "INFO", "component": "a\nb", "msg": "x"}),
        "backslash_tag": orjson.dumps({"level": "INFO", "component": "ends\\", "msg": "x"}),
        "not_object": b"[1, 2, 3]",
        "negative_seq": b'{"seq": -4, "metrics": {"a": 1}}',
    }[how]


@st.composite
def hostile_message(draw, device: str):
    how = draw(st.sampled_from(["truncated", "nan", "inf", "deep", "utf8", "oversized", "wrong_type", "wrong_value",
                                "empty_metrics", "level", "control_tag", "backslash_tag", "not_object",
                                "negative_seq", "topic"]))
    if how == "topic":
        topic = draw(st.sampled_from([f"{PREFIX}/{device} x/telemetry", f"{PREFIX}/{device}/unknown",
                                      f"{PREFIX}/{device}/logs/extra", f"{PREFIX}//logs", f"{PREFIX}/{'d' * 65}/logs"]))
        return topic, b'{"level": "INFO", "msg": "x"}', how
    kind = "telemetry" if how in ("nan", "inf", "wrong_type", "wrong_value", "empty_metrics", "negative_seq") \
        else "events" if how == "deep" else "logs"
    topic = f"{PREFIX}/{device}/{kind}"
    _, valid, _ = draw(valid_message(device))
    return topic, _corrupt(valid, how, draw(st.integers(1, 400))), how


@pytest.fixture(scope="module")
def service(stack, tmp_path_factory):
    db = stack.new_database("hostile")
    env = {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": "ingest-hostile",
           "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": db, "FAULTLINE_LINGER_MS": "20",
           "FAULTLINE_MAX_PAYLOAD_BYTES": str(MAX_PAYLOAD), "FAULTLINE_MQTT_TOPIC_PREFIX": PREFIX,
           "FAULTLINE_DATA_DIR": str(tmp_path_factory.mktemp("hostile"))}
    svc = ingest_service(load_settings(env))
    svc.start()
    assert svc.subscriber.wait_connected(20)
    yield svc
    svc.stop()


MEASUREMENT = {"telemetry": "telemetry", "logs": "device_logs", "events": "device_events"}


def check_stored(client: InfluxClient, prefix: str, valid: dict[str, tuple[str, dict]]) -> None:
    rows = {}
    for measurement in ("telemetry", "device_logs", "device_events"):
        for r in client.rows(f'SELECT * FROM "{measurement}" WHERE "device" =~ /^{prefix}-/'):
            assert r["device"] not in rows, f"extra point for {r['device']}"
            rows[r["device"]] = (measurement, r)
    assert set(rows) == set(valid), "every valid message stored, and nothing else"
    for device, (kind, body) in valid.items():
        measurement, row = rows[device]
        assert measurement == MEASUREMENT[kind] and row["time"] == body["ts"] * 1000 and row["seq"] == 1
        if kind == "telemetry":
            for name, value in body["metrics"].items():
                assert float(row[name]) == float(value), (device, name)  # JSON may print big floats as integers
        elif kind == "logs":
            assert (row["level"], row["component"], row["code"], row["msg"]) == \
                (body["level"], body["component"], body["code"], body["msg"])
        else:
            assert (row["code"], orjson.loads(row["detail"])) == (body["code"], body["detail"])


@settings(max_examples=100, deadline=None, derandomize=True, phases=(Phase.explicit, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
def test_hostile_payloads_mixed_with_valid_ones(service, stack, data):
    ex = next(example_ids)
    prefix = f"hv{ex}"
    valid, hostile, messages = {}, [], []
    for i in range(100):
        device = f"{prefix}-{i}"
        if data.draw(st.booleans()):
            topic, payload, body = data.draw(valid_message(device))
            valid[device] = (topic.rsplit("/", 1)[1], body)
        else:
            topic, payload, how = data.draw(hostile_message(device))
            hostile.append((topic, payload, how))
        messages.append((topic, payload))
    before = {r.id for r in deadletters.query(service.engine, limit=10**6)}
    publish_all(stack.mqtt_url, messages)
    client = InfluxClient(service.client.url, service.client.db)
    wait_until(lambda: deadletters.count(service.engine) >= len(before) + len(hostile), 60,
               what="every hostile message dead-lettered")
    new = [r for r in deadletters.query(service.engine, limit=10**6) if r.id not in before]
    assert sorted((r.topic, r.payload, r.payload_size, r.payload_sha256) for r in new) == \
        sorted((t, *kept(p)) for t, p, _ in hostile)
    assert all(r.reason and r.stage in ("decode", "validate", "write") for r in new)
    wait_until(lambda: _stored_count(client, prefix) == len(valid), 60, what="every valid message stored")
    check_stored(client, prefix, valid)


def kept(payload: bytes) -> tuple:
    """What the dead-letter store keeps of a payload: all of it, or, over the size limit, its head and digest."""
    if len(payload) <= MAX_PAYLOAD:
        return payload, len(payload), None
    return payload[:OVERSIZED_HEAD], len(payload), hashlib.sha256(payload).hexdigest()


def _stored_count(client: InfluxClient, prefix: str) -> int:
    total = 0
    for measurement in ("telemetry", "device_logs", "device_events"):
        rows = client.rows(f'SELECT count("seq") FROM "{measurement}" WHERE "device" =~ /^{prefix}-/')
        total += rows[0]["count"] if rows else 0
    return total
