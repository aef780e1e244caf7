"""Every kind of device message, published with paho, stored as the contract says."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from support.waiting import wait_until
from faultline.settings import load_settings
from influx.client import InfluxClient
from faultline.wiring import ingest_service


@pytest.fixture
def ingest(env):
    settings = load_settings(env)
    service = ingest_service(settings)
    service.client.ensure_database()
    service.start()
    assert service.subscriber.wait_connected(20)
    yield service
    service.stop()


def influx(env) -> InfluxClient:
    return InfluxClient(env["FAULTLINE_INFLUX_URL"], env["FAULTLINE_INFLUX_DB"])


def count(client: InfluxClient, measurement: str, field: str = "seq") -> int:
    rows = client.rows(f'SELECT count("{field}") FROM "{measurement}"')
    return rows[0]["count"] if rows else 0


META = {"model": "PX-200", "firmware": "2.1.0", "site": "sh-03", "hw_rev": "B", "customer": "acme", "tier": "gold"}


def test_each_kind_is_stored_with_cohort_tags_and_all_ts_forms(ingest, publish, env, prefix):
    base = int(time.time()) - 3600
    iso = datetime.fromtimestamp(base + 2.5, timezone.utc).isoformat().replace("+00:00", "Z")
    publish([(f"{prefix}/pump-1/meta", json.dumps(META), True)])
    wait_until(lambda: ingest.registry.cohort_of("pump-1").model == "PX-200", what="meta in the registry")
    publish([
        (f"{prefix}/pump-1/telemetry", json.dumps({"ts": base + 0.25, "seq": 1, "metrics": {"temp_c": 41.2, "ok": True}})),
        (f"{prefix}/pump-1/telemetry", json.dumps({"ts": (base + 1) * 1000, "seq": 2, "metrics": {"temp_c": 42}})),
        (f"{prefix}/pump-1/telemetry", json.dumps({"ts": iso, "seq": 3, "metrics": {"temp_c": 43.5}})),
        (f"{prefix}/pump-1/logs", json.dumps([
            {"ts": base + 3, "seq": 1, "level": "ERROR", "component": "motor", "code": "E214", "msg": "overcurrent on phase B"},
            {"ts": base + 3, "seq": 2, "level": "INFO", "component": "motor", "msg": "restart, \"soft\"\nline 2"},
        ])),
        (f"{prefix}/pump-1/events", json.dumps({"ts": base + 4, "seq": 1, "type": "fault", "code": "E214",
                                               "severity": "major", "detail": {"phase": "B", "amps": 12.5}})),
        (f"{prefix}/pump-1/status", "offline", True),
    ])
    client = influx(env)
    wait_until(lambda: count(client, "device_events") == 1 and count(client, "device_status", "online") == 1,
               what="events and status stored")
    rows = client.rows('SELECT * FROM "telemetry" ORDER BY time')
    assert [(r["time"], r["temp_c"], r["seq"]) for r in rows] == [
        ((base * 1000) + 250, 41.2, 1), ((base + 1) * 1000, 42.0, 2), ((base + 2) * 1000 + 500, 43.5, 3)]
    assert rows[0]["ok"] == 1.0
    assert {(r["model"], r["firmware"], r["site"], r["device"]) for r in rows} == {("PX-200", "2.1.0", "sh-03", "pump-1")}
    logs = client.rows('SELECT * FROM "device_logs" ORDER BY time')
    assert [(l["time"], l["level"], l["code"], l["msg"]) for l in logs] == [
        ((base + 3) * 1000, "ERROR", "E214", "overcurrent on phase B"),
        ((base + 3) * 1000, "INFO", "", "restart, \"soft\"\nline 2")]
    event = client.rows('SELECT * FROM "device_events"')[0]
    assert (event["type"], event["severity"], event["code"], event["firmware"]) == ("fault", "major", "E214", "2.1.0")
    assert json.loads(event["detail"]) == {"phase": "B", "amps": 12.5}
    status = client.rows('SELECT * FROM "device_status"')[0]
    assert status["online"] == 0.0 and status["device"] == "pump-1"


def test_duplicate_seq_overwrites_and_same_millisecond_lines_both_kept(ingest, publish, env, prefix):
    line = {"ts": int(time.time()) - 100, "level": "ERROR", "component": "psu", "code": "E1", "msg": "undervoltage"}
    publish([(f"{prefix}/d-2/logs", json.dumps({**line, "seq": 7}))] * 3
            + [(f"{prefix}/d-2/logs", json.dumps({**line, "seq": 8, "msg": "undervoltage again"}))])
    client = influx(env)
    wait_until(lambda: count(client, "device_logs") == 2, what="two distinct log points")
    entry = [e for e in ingest.ledger.entries("d-2")][0]
    assert (entry.received, entry.duplicates) == (4, 2)


def test_bad_messages_are_dead_lettered_with_reason_and_do_not_stop_ingest(ingest, publish, env, prefix):
    from ingest import deadletters

    publish([
        (f"{prefix}/d-3/telemetry", b'{"ts": 1700000000, "metrics": {"temp_c": '),
        (f"{prefix}/d-3/logs", json.dumps({"level": "LOUD", "msg": "x"})),
        (f"{prefix}/bad id!/telemetry", json.dumps({"metrics": {"a": 1}})),
        (f"{prefix}/d-3/telemetry", json.dumps({"seq": 1, "metrics": {"temp_c": 20.5}})),
    ])
    client = influx(env)
    wait_until(lambda: count(client, "telemetry") == 1, what="the good message stored")
    wait_until(lambda: deadletters.count(ingest.engine) == 3, what="three dead letters")
    reasons = {r.topic: (r.stage, r.reason) for r in deadletters.query(ingest.engine)}
    assert reasons[f"{prefix}/d-3/telemetry"][0] == "decode" and "invalid JSON" in reasons[f"{prefix}/d-3/telemetry"][1]
    assert "level must be one of" in reasons[f"{prefix}/d-3/logs"][1]
    assert "does not match" in reasons[f"{prefix}/bad id!/telemetry"][1]


def test_counts_by_stage_reason_and_firmware_reach_ingest_stats(ingest, publish, env, prefix):
    publish([(f"{prefix}/fw-dev/meta", json.dumps({"model": "PX-200", "firmware": "9.9.9"}), True)])
    wait_until(lambda: ingest.registry.firmware_of("fw-dev") == "9.9.9", what="meta in the registry")
    publish([(f"{prefix}/fw-dev/telemetry", json.dumps({"seq": i, "metrics": {"a": i}})) for i in range(1, 4)]
            + [(f"{prefix}/fw-dev/telemetry", b"{not json")] * 2)
    client = influx(env)
    wait_until(lambda: count(client, "telemetry") == 3, what="three stored")
    ingest.stop()  # the last counts are flushed on the way out
    rows = client.rows('SELECT sum("messages") AS n FROM "ingest_stats" GROUP BY "stage", "reason", "firmware"')
    counts = {(r["stage"], r["reason"], r["firmware"]): r["n"] for r in rows}
    assert counts[("stored", "", "9.9.9")] == 4  # the meta message and three readings
    assert counts[("decode", "json", "9.9.9")] == 2
