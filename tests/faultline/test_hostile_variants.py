"""Each hostile variant a device can send, through the whole service on the session's real Mosquitto
and InfluxDB: it is stored or dead-lettered with its reason, housekeeping runs over it (counters,
ledger, gap lines, registry), and then a good device's message is stored while ``/ready`` says ready
and no step of any thread has failed.

One `faultline run` service (in this process, with its API app) serves every variant, so what one
variant leaves behind (a poisoned registry row, a huge ``seq``) meets the variants after it.
"""

from __future__ import annotations

import hashlib
import time
import uuid

import orjson
import paho.mqtt.client as paho
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from faultline.wiring import api_app
from faultline.run import Faultline
from faultline.settings import load_settings
from influx.client import InfluxClient
from ingest import deadletters
from ingest.deadletters import OVERSIZED_HEAD
from support.publishing import publish_all
from support.waiting import wait_until

MAX_PAYLOAD = 8192
CAP = 20


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"hv{uuid.uuid4().hex[:8]}/devices"


@pytest.fixture(scope="module")
def service(stack, prefix, tmp_path_factory):
    env = {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": f"hv-{uuid.uuid4().hex[:8]}",
           "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": stack.new_database("hv"),
           "FAULTLINE_DATA_DIR": str(tmp_path_factory.mktemp("hv")), "FAULTLINE_MQTT_TOPIC_PREFIX": prefix,
           "FAULTLINE_LINGER_MS": "20", "FAULTLINE_MAX_PAYLOAD_BYTES": str(MAX_PAYLOAD),
           "FAULTLINE_MAX_METRICS_PER_DEVICE": str(CAP), "FAULTLINE_STATS_INTERVAL_S": "0.3",
           "FAULTLINE_GAP_GRACE_S": "0", "FAULTLINE_READY_CACHE_S": "0"}
    settings = load_settings(env)
    run = Faultline(settings, serve_api=False)
    run.ingest.client.ensure_database()
    run.start()
    assert run.ingest.subscriber.wait_connected(20)
    with TestClient(api_app(settings, engine=run.engine, pipeline=run)) as api:
        yield run, api
    run.stop()


def telemetry(seq: int, **metrics) -> bytes:
    return orjson.dumps({"ts": int(time.time()), "seq": seq, "metrics": metrics or {"temp_c": 20.0}})


def fault(code: str = "E214", seq: int | None = None) -> bytes:
    """A fault stamped now: a time fixed at import would fall behind the detectors' open window
    once the module runs across an hour's end, and a late fault is stored but not counted."""
    body = {"ts": int(time.time()), "type": "fault", "code": code, "severity": "major"}
    return orjson.dumps(body if seq is None else {**body, "seq": seq})


# (messages of the hostile device: (kind, payload[, retain]), dead letters expected, reason kinds expected)
VARIANTS = {
    "meta firmware ends in a backslash": ([("meta", orjson.dumps({"model": "PX", "firmware": "2.1.0\\"}), True),
                                           ("telemetry", telemetry(1))], 1, {"schema"}),
    "meta values with control characters": ([("meta", orjson.dumps({"model": "PX\n200", "note": "a\u0000b"}), True),
                                             ("telemetry", telemetry(1))], 1, {"schema"}),
    "meta values of the wrong type": ([("meta", b'{"model": 5, "extra": {"a": [1]}}'), ("telemetry", telemetry(1))],
                                      1, {"schema"}),
    "seq jumps of 2^63": ([("telemetry", telemetry(1)), ("telemetry", telemetry(2**63 - 1)),
                           ("telemetry", telemetry(0)), ("telemetry", telemetry(2**62)), ("telemetry", telemetry(3))],
                          0, set()),
    "metric-name bomb": ([("telemetry", telemetry(i, **{f"m{i}_{k}": 1.0 for k in range(8)})) for i in range(1, 8)],
                         5, {"cardinality"}),
    "oversized payload": ([("logs", orjson.dumps({"level": "INFO", "msg": "x" * 3 * MAX_PAYLOAD}))], 1, {"size"}),
    "malformed JSON": ([("telemetry", b'{"seq": 1, "metrics": {"a": '), ("logs", b'{"level": "INFO", "msg": "\xff"}'),
                        ("events", b'{"type": "fault", "detail": ' + b"[" * 4000 + b"]" * 4000 + b"}"), ("telemetry", b'{"metrics": {"a": NaN}}')],
                       4, {"json", "utf8"}),
    "numbers at the edge": ([("telemetry", b'{"seq": 1, "metrics": {"a": 1e308, "b": -0.0, "c": 9223372036854775807}}'),
                             ("telemetry", b'{"seq": 2, "metrics": {"a": 18446744073709551616}}'),
                             ("telemetry", b'{"seq": 3, "metrics": {"a": 1e400}}')], 1, {"json"}),
    "status and topic garbage": ([("status", b"maybe", True), ("unknown", b"{}"), ("telemetry/extra", b"{}")],
                                 2, {"schema", "topic"}),  # (the last names no device: dead-lettered without one)
    "batch past the item limit": ([("logs", orjson.dumps([{"level": "INFO", "msg": "x"}] * 10_001))], 1, {"size"}),
    "the same fault a hundred times": ([("events", fault(seq=7))] * 100, 0, set()),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_hostile_variant_then_a_good_device_is_stored_and_ready_stays_true(service, stack, prefix, variant):
    run, api = service
    messages, dead_expected, kinds = VARIANTS[variant]
    hostile = f"h-{abs(hash(variant)) % 10**8}"
    good = f"g-{hostile[2:]}"
    dead_before = _dead_of(run, hostile)
    runs = run.ingest.housekeeping.runs
    publish_all(stack.mqtt_url, [(f"{prefix}/{hostile}/{kind}", payload, *rest) for kind, payload, *rest in messages]
                + [(f"{prefix}/{hostile}/telemetry", telemetry(10**6)), (f"{prefix}/{good}/telemetry", telemetry(1))])
    client = InfluxClient(stack.influx_url, run.settings.influx_db)
    wait_until(lambda: _stored(client, good) == 1, 30, what="the good device's message stored")
    wait_until(lambda: run.ingest.housekeeping.runs >= runs + 2, 10, what="housekeeping over the variant")
    new = _dead_of(run, hostile)[len(dead_before):]
    assert len(new) == dead_expected, [(r.reason_kind, r.reason) for r in new]
    assert {r.reason_kind for r in new} == kinds
    assert all(r.reason for r in new)
    assert _stored(client, hostile) >= 1, "the hostile device's own next ordinary message is stored too"
    _assert_ready(run, api)


def test_oversized_payload_is_kept_as_head_size_and_digest(service, stack, prefix):
    run, api = service
    payload = orjson.dumps({"level": "INFO", "msg": "y" * 5 * MAX_PAYLOAD})
    publish_all(stack.mqtt_url, [(f"{prefix}/big-1/logs", payload)])
    row = wait_until(lambda: _dead_of(run, "big-1"), 30, what="the oversized payload dead-lettered")[0]
    assert (row.payload, row.payload_size, row.payload_sha256) == \
        (payload[:OVERSIZED_HEAD], len(payload), hashlib.sha256(payload).hexdigest())
    _assert_ready(run, api)


def test_a_retained_fault_counts_once_across_a_reconnect(service, stack, prefix):
    """Retained messages come with a new subscription only: a reconnect to the session does not
    replay them (the fault has no seq, so the ledger could not tell)."""
    run, api = service
    device, topic = f"rf-{uuid.uuid4().hex[:6]}", f"{prefix}/{{}}/events"
    publish_all(stack.mqtt_url, [(topic.format(device), fault("E900"), True)])
    wait_until(lambda: _faults(run, device) == 1, 30, what="the retained fault counted")
    generation = run.ingest.subscriber.generation
    _take_over_session(stack, run.settings.mqtt_client_id)
    wait_until(lambda: run.ingest.subscriber.generation > generation and run.ingest.subscriber.connected.is_set(),
               60, what="the service back on its session")
    publish_all(stack.mqtt_url, [(topic.format(f"after-{device}"), fault("E901"))])
    wait_until(lambda: _faults(run, f"after-{device}") == 1, 30, what="a fault after the reconnect")
    # a replay would have come before that fault and left 2 for good; a wait only rides out a window closing
    wait_until(lambda: _faults(run, device) == 1, 5, what="the retained fault still counted once")
    publish_all(stack.mqtt_url, [(topic.format(device), b"", True)])  # clear the retained message
    _assert_ready(run, api)


def _take_over_session(stack, client_id: str) -> None:
    """Connect with the service's client id (the broker drops the service), then leave."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFF
    other = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    other.connect("127.0.0.1", stack.mqtt_port, clean_start=False, properties=props)
    other.loop_start()
    wait_until(other.is_connected, 10, what="the second connection")
    other.disconnect()
    other.loop_stop()


def _assert_ready(run, api) -> None:
    response = api.get("/ready")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"]) == {"sql", "influxdb", "mqtt", "ingest", "detectors"}
    assert run.supervisor.failures == {} and run.ingest.pipeline.failures == 0
    assert run.supervisor.dead() == []


def _dead_of(run, device: str) -> list:
    return deadletters.query(run.engine, device=device, limit=10_000)


def _stored(client: InfluxClient, device: str) -> int:
    rows = client.rows('SELECT count("seq") FROM "telemetry" WHERE "device" = $d', {"d": device})
    return rows[0]["count"] if rows else 0


def _faults(run, device: str) -> int:
    """The device's fault events, in open windows and closed ones (copies: the detect thread changes both)."""
    state = run.pipeline.detectors.devices.get(device)
    if state is None:
        return 0
    return sum(slot[0] for slot in list(state.pending.values())) + sum(n for _, n in list(state.fault_windows))
