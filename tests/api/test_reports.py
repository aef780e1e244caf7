"""Customer reports over `POST /api/v1/tickets`: linked to the device's evidence and to its active ticket."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sql("sqlite", "postgresql")

REPORT = {"device": "pump-1", "customer": "acme", "reported_at": "2025-12-31T23:50:00Z",
          "symptom": "stops after a minute", "frequency": "daily", "impact": "down", "contact": "ann@acme.example"}


def _report(client, auth, **changes):
    return client.post("/api/v1/tickets", json={**REPORT, **changes}, headers=auth("technician"))


def test_a_report_for_a_device_of_an_active_cohort_joins_that_ticket(client, auth, open_ticket, registered):
    registered("pump-1")
    cohort = open_ticket("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate",
                         devices=("pump-7",))
    response = _report(client, auth)
    assert response.status_code == 201, response.text
    report = response.json()
    assert (report["source"], report["merged_into"], report["severity"]) == ("customer", cohort, "major")
    assert (report["symptom"], report["frequency"], report["impact"]) == ("stops after a minute", "daily", "down")
    assert report["reported_ms"] == 1_767_225_000_000 and report["onset_ms"] == report["reported_ms"]
    parent = client.get(f"/api/v1/tickets/{cohort}", headers=auth("viewer")).json()
    assert report["id"] in parent["merged"] and "pump-1" in parent["devices"]
    assert parent["history"][-1]["kind"] == "customer_report" and parent["history"][-1]["detail"]["report"] == report["id"]
    queue = client.get("/api/v1/tickets", headers=auth("viewer")).json()
    assert [t["id"] for t in queue["items"]] == [cohort]  # not an unrelated duplicate


def test_a_report_joins_the_devices_own_ticket_else_opens_one_with_evidence(client, auth, open_ticket, registered):
    registered("pump-1")
    registered("pump-2", firmware="2.0.4")
    own = open_ticket("pump-1")
    assert _report(client, auth).json()["merged_into"] == own
    alone = _report(client, auth, device="pump-2", impact="degraded").json()
    assert (alone["merged_into"], alone["state"], alone["severity"], alone["source"]) == (None, "open", "minor",
                                                                                          "customer")
    # a device with no data in InfluxDB: the evidence was gathered, and is empty
    assert alone["evidence_complete"] and alone["evidence"]["logs"] == [] and alone["devices"] == ["pump-2"]
    listed = client.get("/api/v1/tickets", params={"device": "pump-2"}, headers=auth("viewer")).json()
    assert [t["id"] for t in listed["items"]] == [alone["id"]]


@pytest.mark.parametrize("changes,field", [
    ({"device": "nobody"}, "device"),
    ({"device": "bad device"}, "device"),
    ({"customer": ""}, "customer"),
    ({"symptom": "x" * 2001}, "symptom"),
    ({"frequency": "sometimes"}, "frequency"),
    ({"impact": "meh"}, "impact"),
    ({"reported_at": "2025-12-31T23:50:00"}, "reported_at"),  # no zone
    ({"reported_at": "2026-02-01T00:00:00Z"}, "reported_at"),  # in the future
    ({"contact": None}, "contact"),
])
def test_bad_reports_are_422_naming_the_field(client, auth, registered, changes, field):
    registered("pump-1")
    response = _report(client, auth, **changes)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_viewers_cannot_report(client, auth, registered):
    registered("pump-1")
    assert client.post("/api/v1/tickets", json=REPORT, headers=auth("viewer")).status_code == 403
