"""/api/v1/devices: the registry (real SQL) and telemetry/logs (real InfluxDB)."""

from __future__ import annotations

import pytest

from ingest import fields
from ingest.points import line_for
from ingest.records import Cohort, DeviceMeta, DeviceStatus, LogLine, Telemetry
from ingest.registry import DeviceRegistry

pytestmark = pytest.mark.sql("sqlite", "postgresql")

T0 = 1_767_225_600_000  # the test clock's now (2026-01-01T00:00:00Z)
PX = Cohort("PX-200", "2.1.0", "sh-03")
HOSTILE = 'it\'s "quoted" \\ back\\slash'


@pytest.fixture
def fleet(engine):
    registry = DeviceRegistry(engine)
    metas = [DeviceMeta("pump-1", T0 - 9000, "PX-200", "2.1.0", "sh-03", customer="acme", tier="gold"),
             DeviceMeta("pump-2", T0 - 9000, "PX-200", "2.0.4", "sh-01"),
             DeviceMeta("fan-1", T0 - 9000, "FX-10", "1.0.0", "sh-03"),
             DeviceMeta("odd-1", T0 - 9000, "PX-200", HOSTILE, "sh-03")]
    registry.persist(metas, [DeviceStatus("pump-1", T0 - 5000, True), DeviceStatus("fan-1", T0 - 5000, False)])
    return registry


@pytest.fixture
def points(influx, engine):
    records = [Telemetry("pump-1", T0 - 60_000 + i * 10_000, i, {"temp_c": 40.0 + i, "vibration_rms": 0.1 * i}, PX)
               for i in range(5)]
    records += [Telemetry("pump-1", T0 - 2 * 3_600_000, 99, {"temp_c": 1.0}, PX)]  # outside the default hour
    records += [Telemetry("pump-2", T0 - 30_000, 1, {"temp_c": 20.0}, Cohort("PX-200", "2.0.4", "sh-01"))]
    records += [LogLine("pump-1", T0 - 50_000, 1, "INFO", "motor", "I001", "start", PX),
                LogLine("pump-1", T0 - 40_000, 2, "ERROR", "motor", "E214", "overcurrent on phase B", PX),
                LogLine("pump-1", T0 - 30_000, 3, "FATAL", "power", HOSTILE, "brownout", PX),
                LogLine("pump-1", T0 - 20_000, 4, "WARN", "motor", "W7", "hot", PX)]
    influx.write("\n".join(line_for(r) for r in records), precision="ns")
    fields.persist(engine, [(r.device, name, 0) for r in records if isinstance(r, Telemetry) for name in r.metrics])
    return records


def test_list_filters_and_pages_registered_devices(client, auth, fleet):
    everything = client.get("/api/v1/devices", headers=auth("viewer")).json()
    assert everything["total"] == 4 and [d["device"] for d in everything["items"]] == ["fan-1", "odd-1", "pump-1", "pump-2"]
    px = client.get("/api/v1/devices?model=PX-200&site=sh-03", headers=auth("viewer")).json()
    assert [d["device"] for d in px["items"]] == ["odd-1", "pump-1"]
    online = client.get("/api/v1/devices?online=false", headers=auth("viewer")).json()
    assert [d["device"] for d in online["items"]] == ["fan-1"]
    first = client.get("/api/v1/devices?limit=3", headers=auth("viewer")).json()
    second = client.get(f"/api/v1/devices?limit=3&offset={first['next_offset']}", headers=auth("viewer")).json()
    assert (first["total"], first["next_offset"], second["next_offset"]) == (4, 3, None)
    assert [d["device"] for d in second["items"]] == ["pump-2"]


def test_hostile_filter_value_is_an_exact_match(client, auth, fleet):
    response = client.get("/api/v1/devices", params={"firmware": HOSTILE}, headers=auth("viewer"))
    assert response.status_code == 200
    assert [d["device"] for d in response.json()["items"]] == ["odd-1"]
    near = client.get("/api/v1/devices", params={"firmware": HOSTILE[:-1]}, headers=auth("viewer"))
    assert near.status_code == 200 and near.json()["total"] == 0


def test_get_device_and_unknown_device(client, auth, fleet):
    pump = client.get("/api/v1/devices/pump-1", headers=auth("viewer")).json()
    assert (pump["model"], pump["firmware"], pump["customer"], pump["online"]) == ("PX-200", "2.1.0", "acme", True)
    missing = client.get("/api/v1/devices/pump-404", headers=auth("viewer"))
    assert missing.status_code == 404 and "pump-404" in missing.json()["detail"]
    bad = client.get("/api/v1/devices/bad%20id%22", headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "device_id"


def test_telemetry_defaults_to_the_last_hour_oldest_first(client, auth, fleet, points):
    body = client.get("/api/v1/devices/pump-1/telemetry", headers=auth("viewer")).json()
    assert (body["start_ms"], body["end_ms"]) == (T0 - 3_600_000, T0)
    assert [p["time_ms"] for p in body["points"]] == [T0 - 60_000 + i * 10_000 for i in range(5)]
    assert body["points"][2]["metrics"] == {"temp_c": 42.0, "vibration_rms": pytest.approx(0.2)}
    assert body["points"][2]["seq"] == 2


def test_telemetry_range_limit_and_metric_selection(client, auth, fleet, points):
    params = {"start_ms": T0 - 3 * 3_600_000, "end_ms": T0 - 30_000, "limit": 2, "metric": "temp_c"}
    body = client.get("/api/v1/devices/pump-1/telemetry", params=params, headers=auth("viewer")).json()
    assert [p["time_ms"] for p in body["points"]] == [T0 - 50_000, T0 - 40_000]  # newest 2 before end
    assert [p["metrics"] for p in body["points"]] == [{"temp_c": 41.0}, {"temp_c": 42.0}]
    old = client.get("/api/v1/devices/pump-1/telemetry", headers=auth("viewer"),
                     params={"start_ms": T0 - 3 * 3_600_000, "end_ms": T0 - 3_600_000}).json()
    assert [p["metrics"]["temp_c"] for p in old["points"]] == [1.0]


def test_logs_filter_by_level_component_and_hostile_code(client, auth, fleet, points):
    body = client.get("/api/v1/devices/pump-1/logs", headers=auth("viewer")).json()
    assert [line["code"] for line in body["lines"]] == ["I001", "E214", HOSTILE, "W7"]
    severe = client.get("/api/v1/devices/pump-1/logs?level=ERROR&level=FATAL", headers=auth("viewer")).json()
    assert [(line["level"], line["msg"]) for line in severe["lines"]] == [
        ("ERROR", "overcurrent on phase B"), ("FATAL", "brownout")]
    motor = client.get("/api/v1/devices/pump-1/logs?component=motor&limit=2", headers=auth("viewer")).json()
    assert [line["code"] for line in motor["lines"]] == ["E214", "W7"]
    hostile = client.get("/api/v1/devices/pump-1/logs", params={"code": HOSTILE}, headers=auth("viewer"))
    assert hostile.status_code == 200 and [line["msg"] for line in hostile.json()["lines"]] == ["brownout"]
    injection = client.get("/api/v1/devices/pump-1/logs", params={"code": "x' OR code=~/.*/ --"},
                           headers=auth("viewer"))
    assert injection.status_code == 200 and injection.json()["lines"] == []


def test_hostile_metric_names_are_quoted_identifiers(client, auth, fleet, points):
    for name in ('temp_c" FROM telemetry --', "temp_c\\", "it's"):
        response = client.get("/api/v1/devices/pump-1/telemetry", params={"metric": name}, headers=auth("viewer"))
        assert response.status_code == 200, name
        assert all(p["metrics"] == {} for p in response.json()["points"])


def test_telemetry_and_logs_errors(client, auth, fleet, points):
    reversed_range = client.get(f"/api/v1/devices/pump-1/telemetry?start_ms={T0}&end_ms={T0 - 1}",
                                headers=auth("viewer"))
    assert reversed_range.status_code == 422 and reversed_range.json()["errors"][0]["field"] == "start_ms"
    too_many = client.get("/api/v1/devices/pump-1/telemetry?limit=10001", headers=auth("viewer"))
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "limit"
    bad_level = client.get("/api/v1/devices/pump-1/logs?level=LOUD", headers=auth("viewer"))
    assert bad_level.status_code == 422 and bad_level.json()["errors"][0]["field"] == "level.0"
    unknown = client.get("/api/v1/devices/ghost-7/telemetry", headers=auth("viewer"))
    assert unknown.status_code == 404 and "ghost-7" in unknown.json()["detail"]


def test_unregistered_device_with_data_is_served(client, auth, influx, engine):
    influx.write(line_for(Telemetry("loose-1", T0 - 1000, 1, {"temp_c": 5.0})), precision="ns")
    named = client.get("/api/v1/devices/loose-1/telemetry?metric=temp_c", headers=auth("viewer"))
    assert named.status_code == 200 and [p["metrics"] for p in named.json()["points"]] == [{"temp_c": 5.0}]
    fields.persist(engine, [("loose-1", "temp_c", T0)])  # ingest records the names of every device
    body = client.get("/api/v1/devices/loose-1/telemetry", headers=auth("viewer"))
    assert body.status_code == 200 and [p["metrics"] for p in body.json()["points"]] == [{"temp_c": 5.0}]
    assert client.get("/api/v1/devices/loose-1/metrics", headers=auth("viewer")).json() == \
        {"device": "loose-1", "metrics": ["temp_c"]}


def test_telemetry_reads_only_the_devices_own_fields(client, auth, influx, engine, fleet):
    """Another device's field bomb does not reach this device's query: it names its own fields."""
    bomb = "\n".join(line_for(Telemetry("bomb-1", T0 - 1000 + i, i, {f"junk_{i}_{k}": 1.0 for k in range(50)}))
                     for i in range(40))
    influx.write(bomb + "\n" + line_for(Telemetry("pump-1", T0 - 500, 1, {"temp_c": 7.0}, PX)), precision="ns")
    fields.persist(engine, [("pump-1", "temp_c", T0)])
    body = client.get("/api/v1/devices/pump-1/telemetry", headers=auth("viewer")).json()
    assert [p["metrics"] for p in body["points"]] == [{"temp_c": 7.0}]


def test_events_filter_by_type_severity_and_code(client, auth, fleet, influx):
    from ingest.records import DeviceEvent

    influx.write("\n".join(line_for(r) for r in [
        DeviceEvent("pump-1", T0 - 30_000, 1, "fault", "E214", "major", '{"phase": "B"}', PX),
        DeviceEvent("pump-1", T0 - 20_000, 2, "reboot", "", "minor", "{}", PX),
        DeviceEvent("pump-1", T0 - 10_000, 3, "fault", HOSTILE, "critical", "{}", PX),
    ]), precision="ns")
    every = client.get("/api/v1/devices/pump-1/events", headers=auth("viewer")).json()["events"]
    assert [(e["type"], e["code"]) for e in every] == [("fault", "E214"), ("reboot", ""), ("fault", HOSTILE)]
    assert every[0]["detail"] == {"phase": "B"}
    faults = client.get("/api/v1/devices/pump-1/events?type=fault&severity=major", headers=auth("viewer")).json()
    assert [e["code"] for e in faults["events"]] == ["E214"]
    hostile = client.get("/api/v1/devices/pump-1/events", params={"code": HOSTILE}, headers=auth("viewer"))
    assert [e["severity"] for e in hostile.json()["events"]] == ["critical"]
    bad = client.get("/api/v1/devices/pump-1/events?type=explosion", headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "type.0"


def test_influxdb_down_is_503_not_500(settings, engine, auth, fleet):
    from fastapi.testclient import TestClient

    from faultline.wiring import api_app
    from faultline.stack import free_port
    from influx.client import InfluxClient

    port = free_port()
    dead = InfluxClient(f"http://127.0.0.1:{port}", "faultline", timeout=2)
    fields.persist(engine, [("pump-1", "temp_c", T0)])
    with TestClient(api_app(settings, engine=engine, influx=dead)) as c:
        for route in ("telemetry", "logs", "events"):
            response = c.get(f"/api/v1/devices/pump-1/{route}", headers=auth("viewer"))
            assert response.status_code == 503 and "InfluxDB" in response.json()["detail"], route
            assert str(port) not in response.text and "127.0.0.1" not in response.text, route  # no internal URL
