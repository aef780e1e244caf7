"""Generated payloads through the pipeline AND everything that runs after it: the registry, metric-name
and dead-letter writes, the InfluxDB write, the counters, the gap lines and the ledger save.

Real SQLite and the session's real InfluxDB. Decoding alone is covered by test_hostile.py; here the
question is whether anything a device can send makes a later step fail (which used to end the
pipeline thread). Every example must leave no step failed, no internal error, and no line that
InfluxDB refuses.
"""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faultline.settings import load_settings
from ingest import deadletters
from ingest.batch import Batch
from ingest.pipeline import MessageSource
from faultline.wiring import ingest_service

PREFIX = "prop/devices"
DEVICES = ("p-1", "p-2", "p-3", "p:4.x_y-z")
NOW_MS = int(time.time() * 1000)

text = st.text(st.characters(blacklist_categories=("Cs",)) | st.sampled_from(list('\\\n\r\t\0,= "\'')), max_size=20)
scalar = st.none() | st.booleans() | st.integers(-(2**65), 2**65) | st.floats() | text
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                          max_leaves=8)
seq = st.none() | st.integers(-3, 5) | st.integers(0, 2**63 - 1) | st.sampled_from([2**63 - 1, 2**63, 2**64, -1])
ts = st.none() | st.integers(-(2**63), 2**63) | st.floats() | st.just(NOW_MS) | text


@st.composite
def payload(draw, kind: str):
    if kind == "meta":
        keys = st.sampled_from(["model", "firmware", "site", "hw_rev", "customer", "tier"]) | text
        return draw(st.dictionaries(keys, scalar | text.map(lambda s: s + "\\"), max_size=7))
    if kind == "status":
        return draw(st.sampled_from(["online", "offline", "", "maybe"]))
    body = {"ts": draw(ts), "seq": draw(seq)}
    if kind == "telemetry":
        body["metrics"] = draw(st.dictionaries(text, scalar, max_size=6))
    elif kind == "logs":
        body.update(level=draw(st.sampled_from(["INFO", "ERROR", "LOUD"])), component=draw(text), code=draw(text),
                    msg=draw(text))
    else:
        body.update(type=draw(st.sampled_from(["fault", "reboot", "x"])), code=draw(text),
                    severity=draw(st.sampled_from(["minor", "critical", None])), detail=draw(json_value))
    return draw(st.lists(st.just(body), min_size=1, max_size=3)) if draw(st.booleans()) else body


@st.composite
def message(draw):
    device = draw(st.sampled_from(DEVICES))
    kind = draw(st.sampled_from(["telemetry", "logs", "events", "meta", "status"]))
    if draw(st.integers(0, 9)) == 0:
        return f"{PREFIX}/{device}/{kind}", draw(st.binary(max_size=64))
    body = draw(payload(kind))
    raw = body.encode() if isinstance(body, str) else orjson.dumps(body, option=orjson.OPT_PASSTHROUGH_SUBCLASS,
                                                                   default=str) if _dumpable(body) else b"{}"
    return f"{PREFIX}/{device}/{kind}", raw


def _dumpable(body) -> bool:
    try:
        orjson.dumps(body)
    except (TypeError, orjson.JSONEncodeError):
        return False
    return True


@pytest.fixture(scope="module")
def service(stack, tmp_path_factory):
    env = {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_INFLUX_URL": stack.influx_url,
           "FAULTLINE_INFLUX_DB": stack.new_database("prop"), "FAULTLINE_MQTT_TOPIC_PREFIX": PREFIX,
           "FAULTLINE_DATA_DIR": str(tmp_path_factory.mktemp("prop")), "FAULTLINE_GAP_GRACE_S": "0",
           "FAULTLINE_MAX_METRICS_PER_DEVICE": "12", "FAULTLINE_DEADLETTER_MAX_PER_DEVICE": "50"}
    svc = ingest_service(load_settings(env))  # not started: the test runs each stage's step itself
    svc.client.ensure_database()
    return svc


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(messages=st.lists(message(), min_size=1, max_size=25))
def test_generated_payloads_survive_housekeeping_and_every_write(service, messages):
    batch = Batch()
    for i, (topic, raw) in enumerate(messages):
        service.pipeline.add(batch, MessageSource(topic, raw, NOW_MS + i))
    service.housekeeping.run(batch, NOW_MS + 1000)  # counters, gap lines, ledger save
    service._commit(batch)  # registry, metric names, dead letters, InfluxDB (as the writer thread does)
    after = Batch()
    service.housekeeping.run(after, NOW_MS + 2000)  # the counters the commit added, and the ledger again
    service._commit(after)
    assert dict(service.supervisor.failures) == {} and service.pipeline.failures == 0
    refused = deadletters.counts_by(service.engine, "stage").get("write", 0)
    assert refused == 0, "InfluxDB refused a line the pipeline or housekeeping built"


def test_the_generated_stream_had_both_storable_and_refused_messages(service):
    """(Runs after the property test on the same service: the examples were not all trivial.)"""
    stored, refused = service.stats.total("stored"), deadletters.count(service.engine)
    assert stored >= 50 and refused >= 50, (stored, refused)
    assert service.ledger.entries() and service.registry.cohort_of("p-1") is not None
