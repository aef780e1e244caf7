"""Resolving records the root cause against the detector's attribution: category, confirmed attribute, verdict."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sql("sqlite", "postgresql")


def _resolve(client, auth, ticket_id, **extra):
    body = {"root_cause": "bad build", "resolution": "rolled back", **extra}
    return client.post(f"/api/v1/tickets/{ticket_id}/resolve", json=body, headers=auth("technician"))


def test_confirmed_attribution_takes_the_detectors_and_reopen_clears_it(client, auth, open_ticket):
    cohort = open_ticket("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate")
    done = _resolve(client, auth, cohort, root_cause_category="firmware", attribution="confirmed")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["root_cause_category"], body["confirmed_attribute"], body["attribution"], body["source"]) == (
        "firmware", "model=PX-200,firmware=2.1.0", "confirmed", "detector")
    assert body["history"][-1]["detail"]["attribution"] == "confirmed"
    reopened = client.post(f"/api/v1/tickets/{cohort}/reopen", json={"reason": "back again"},
                           headers=auth("technician")).json()
    assert (reopened["root_cause_category"], reopened["confirmed_attribute"], reopened["attribution"]) == (
        None, None, None)


def test_corrected_attribution_names_what_was_at_fault(client, auth, open_ticket):
    ticket = open_ticket("pump-1")
    body = _resolve(client, auth, ticket, root_cause_category="hardware", confirmed_attribute=" hw_rev=B ",
                    attribution="corrected").json()
    assert (body["root_cause_category"], body["confirmed_attribute"], body["attribution"]) == (
        "hardware", "hw_rev=B", "corrected")
    listed = client.get("/api/v1/tickets", params={"state": "resolved"}, headers=auth("viewer")).json()
    assert [t["source"] for t in listed["items"]] == ["detector"]


@pytest.mark.parametrize("extra,field", [
    ({"root_cause_category": "bad luck"}, "root_cause_category"),
    ({"root_cause_category": "firmware", "attribution": "maybe"}, "attribution"),
    ({"root_cause_category": "network", "attribution": "corrected"}, "confirmed_attribute"),
    ({"confirmed_attribute": "x" * 257}, "confirmed_attribute"),
])
def test_unknown_or_inconsistent_findings_are_422_and_change_nothing(client, auth, open_ticket, extra, field):
    ticket = open_ticket("pump-2")
    response = _resolve(client, auth, ticket, **extra)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    after = client.get(f"/api/v1/tickets/{ticket}", headers=auth("viewer")).json()
    assert (after["state"], after["version"]) == ("open", 1)
