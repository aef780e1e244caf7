"""/api/v1/deadletters: list with filters (viewer) and replay into the real InfluxDB (admin)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from faultline.wiring import api_app
from faultline.settings import load_settings
from influx.client import InfluxClient
from faultline.stack import free_port
from ingest import deadletters
from ingest.deadletters import DeadLetter

pytestmark = pytest.mark.sql("sqlite", "postgresql")

T0 = 1_767_225_600_000
GOOD = json.dumps({"ts": T0 - 5000, "seq": 1, "metrics": {"temp_c": 41.5}}).encode()


@pytest.fixture
def letters(engine):
    deadletters.add(engine, [
        DeadLetter(T0 - 9000, "devices/pump-1/telemetry", b"{not json", "decode", "json", "invalid JSON", "pump-1", "2.1.0"),
        DeadLetter(T0 - 8000, "devices/pump-1/telemetry", GOOD, "write", "influx", "InfluxDB was down", "pump-1", "2.1.0"),
        DeadLetter(T0 - 7000, "devices/fan-1/logs", b'{"level": "LOUD"}', "validate", "schema", "level: LOUD", "fan-1"),
        DeadLetter(T0 - 6000, "devices/x'y/telemetry", b"\xff\xfe", "decode", "topic", "bad device id", None),
    ])
    return [r.id for r in deadletters.query(engine)]


def test_list_pages_and_filters(client, auth, letters):
    body = client.get("/api/v1/deadletters", headers=auth("viewer")).json()
    assert body["total"] == 4 and [d["id"] for d in body["items"]] == letters
    assert body["items"][0]["payload"] == "{not json" and body["items"][3]["payload"] == "\\xff\\xfe"
    get = lambda q: [d["id"] for d in client.get(f"/api/v1/deadletters?{q}", headers=auth("viewer")).json()["items"]]  # noqa: E731
    assert get("device=pump-1") == letters[:2]
    assert get("reason_kind=schema") == [letters[2]]
    assert get("firmware=2.1.0&stage=write") == [letters[1]]
    assert get("limit=2&offset=2") == letters[2:]
    hostile = client.get("/api/v1/deadletters", params={"device": "x'y\\\""}, headers=auth("viewer"))
    assert hostile.status_code == 200 and hostile.json()["total"] == 0


def test_replay_stores_what_now_decodes_and_keeps_the_rest(client, auth, letters, influx, engine):
    response = client.post("/api/v1/deadletters/replay", json={"all": True}, headers=auth("admin"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["replayed"], body["still_failing"]) == (1, 3)
    assert set(map(int, body["reasons"])) == {letters[0], letters[2], letters[3]}
    rows = influx.rows("SELECT temp_c FROM telemetry WHERE device = $d", {"d": "pump-1"})
    assert [(r["time"], r["temp_c"]) for r in rows] == [(T0 - 5000, 41.5)]
    assert [r.id for r in deadletters.query(engine)] == [letters[0], letters[2], letters[3]]


def test_replay_all_goes_page_by_page(client, auth, letters, influx, engine):
    first = client.post("/api/v1/deadletters/replay", json={"all": True, "limit": 2}, headers=auth("admin")).json()
    assert (first["replayed"], first["still_failing"], first["next_after_id"]) == (1, 1, letters[1])
    rest = client.post("/api/v1/deadletters/replay", json={"all": True, "limit": 2, "after_id": first["next_after_id"]},
                       headers=auth("admin")).json()
    assert (rest["replayed"], rest["still_failing"], rest["next_after_id"]) == (0, 2, None)
    assert [r.id for r in deadletters.query(engine)] == [letters[0], letters[2], letters[3]]


def test_replay_by_id_and_its_errors(client, auth, letters, engine):
    one = client.post("/api/v1/deadletters/replay", json={"ids": [letters[0]]}, headers=auth("admin")).json()
    assert (one["replayed"], one["still_failing"]) == (0, 1)
    unknown = client.post("/api/v1/deadletters/replay", json={"ids": [letters[0], 4242]}, headers=auth("admin"))
    assert unknown.status_code == 404 and "4242" in unknown.json()["detail"]
    for body, field in [({}, "ids"), ({"ids": [1], "all": True}, "ids"), ({"ids": []}, "ids"),
                        ({"ids": ["one"]}, "ids.0"), ({"ids": [0]}, "ids.0"), ({"every": True}, "every")]:
        response = client.post("/api/v1/deadletters/replay", json=body, headers=auth("admin"))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, body
    assert deadletters.count(engine) == 4


def test_replay_with_influxdb_down_is_503_and_removes_nothing(settings_env, engine, influx, auth, letters):
    down = InfluxClient(f"http://127.0.0.1:{free_port()}", influx.db, timeout=2)
    with TestClient(api_app(load_settings(settings_env), engine=engine, influx=down)) as c:
        response = c.post("/api/v1/deadletters/replay", json={"ids": [letters[1]]}, headers=auth("admin"))
    assert response.status_code == 503 and "nothing replayed" in response.json()["detail"]
    assert deadletters.count(engine) == 4
