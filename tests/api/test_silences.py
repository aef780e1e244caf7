"""/api/v1/silences against the real SQL store of `alerts.silences`."""

from __future__ import annotations

import pytest

from alerts.silences import list_silences

pytestmark = pytest.mark.sql("sqlite", "postgresql")

HOUR_MS = 3_600_000


def test_technician_creates_lists_reads_and_expires_a_silence(client, auth, engine, clock):
    created = client.post("/api/v1/silences", headers=auth("technician"), json={
        "matchers": ["firmware=2.1.0", "site=~sh-0[1-3]"], "duration_s": 7200, "comment": "rollout"})
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["state"] == "active" and silence["created_by"] == "technician key"
    assert silence["starts_at_ms"] == clock.ms and silence["ends_at_ms"] == clock.ms + 2 * HOUR_MS
    assert [s.id for s in list_silences(engine)] == [silence["id"]]  # really stored

    listed = client.get("/api/v1/silences", headers=auth("viewer")).json()
    assert [s["id"] for s in listed] == [silence["id"]]
    one = client.get(f"/api/v1/silences/{silence['id']}", headers=auth("viewer")).json()
    assert one["matchers"] == ["firmware=2.1.0", "site=~sh-0[1-3]"]

    clock.ms += 1000
    expired = client.delete(f"/api/v1/silences/{silence['id']}", headers=auth("technician"))
    assert expired.status_code == 200 and expired.json()["state"] == "expired"
    assert client.get("/api/v1/silences", headers=auth("viewer")).json() == []
    everything = client.get("/api/v1/silences?state=all", headers=auth("viewer")).json()
    assert [s["state"] for s in everything] == ["expired"]


def test_state_filter_separates_pending_and_active(client, auth, clock):
    later = {"matchers": ["device=pump-1"], "starts_at_ms": clock.ms + HOUR_MS, "ends_at_ms": clock.ms + 2 * HOUR_MS}
    now = {"matchers": ["device=pump-2"], "duration_s": 60}
    for body in (later, now):
        assert client.post("/api/v1/silences", json=body, headers=auth("admin")).status_code == 201
    pending = client.get("/api/v1/silences?state=pending", headers=auth("viewer")).json()
    active = client.get("/api/v1/silences?state=active", headers=auth("viewer")).json()
    assert [s["matchers"] for s in pending] == [["device=pump-1"]]
    assert [s["matchers"] for s in active] == [["device=pump-2"]]
    bad = client.get("/api/v1/silences?state=sleeping", headers=auth("viewer"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "state"


def test_bad_silences_are_422_naming_the_field(client, auth, clock):
    cases = [
        ({"matchers": ["colour=red"], "duration_s": 60}, "matchers.0", "colour"),
        ({"matchers": ["code=~E2[0-9"], "duration_s": 60}, "matchers.0", "regular expression"),
        ({"matchers": [], "duration_s": 60}, "matchers", "at least 1"),
        ({"matchers": ["device=a"]}, "ends_at_ms", "exactly one"),
        ({"matchers": ["device=a"], "duration_s": -5}, "duration_s", "greater than 0"),
        ({"matchers": ["device=a"], "starts_at_ms": clock.ms - 2 * HOUR_MS, "ends_at_ms": clock.ms - HOUR_MS},
         "ends_at_ms", "future"),
        ({"matchers": ["device=a"], "duration_s": 60, "colour": "red"}, "colour", "not permitted"),
    ]
    for body, field, words in cases:
        response = client.post("/api/v1/silences", json=body, headers=auth("technician"))
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"] == field, response.json()
        assert words in response.json()["detail"], response.json()


def test_unknown_silence_is_404(client, auth):
    for method in ("get", "delete"):
        role = "viewer" if method == "get" else "technician"
        response = getattr(client, method)("/api/v1/silences/no-such-id", headers=auth(role))
        assert response.status_code == 404 and "no-such-id" in response.json()["detail"]


def test_hostile_matcher_values_are_stored_verbatim(client, auth):
    value = 'pump"7\\\'; DROP TABLE alert_silences; --'
    created = client.post("/api/v1/silences", json={"matchers": [f"device={value}"], "duration_s": 60},
                          headers=auth("technician"))
    assert created.status_code == 201
    assert client.get(f"/api/v1/silences/{created.json()['id']}", headers=auth("viewer")).json()["matchers"] == [
        f"device={value}"]
