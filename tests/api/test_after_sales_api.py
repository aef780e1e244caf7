"""The after-sales KPIs on /api/v1/kpis and /metrics, the rating at closing and the customer's
one-time link, over the real API on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sql("sqlite", "postgresql")

S = 1000
REPORT = {"customer": "acme", "reported_at": "2025-12-31T23:50:00Z", "symptom": "stops after a minute",
          "frequency": "daily", "impact": "degraded", "contact": "ann@acme.example"}


@pytest.fixture
def loop(client, auth, clock, open_ticket, registered):
    """t0 = clock start, times in seconds after it.

    T1 detector, firmware 2.1.0: comment 30 (first response), resolved 600, attribution confirmed
    T2 detector, firmware 2.0.4: acked 120, resolved 300 as no fault found (rejected)
    C1 customer (pump-1): acked 400 (opened 0), resolved 900 confirmed, closed 1000 rated 5 by the technician
    C2 customer (pump-2): resolved 1200 corrected, rated 2 by the customer through the link
    """
    t0 = clock.ms
    tech = auth("technician")

    def at(seconds):
        clock.ms = t0 + seconds * S

    def post(path, body=None, expect=200):
        response = client.post(f"/api/v1/tickets/{path}", json=body, headers=tech)
        assert response.status_code == expect, response.text
        return response.json()

    registered("pump-1")
    registered("pump-2", firmware="2.0.4")
    t1 = open_ticket("pump-7", firmware="2.1.0")
    t2 = open_ticket("pump-8", firmware="2.0.4")
    c1 = client.post("/api/v1/tickets", json={**REPORT, "device": "pump-1"}, headers=tech).json()["id"]
    c2 = client.post("/api/v1/tickets", json={**REPORT, "device": "pump-2"}, headers=tech).json()["id"]
    at(30); post(f"{t1}/comments", {"text": "checking the rollout"}, 201)
    at(120); post(f"{t2}/ack")
    at(300); post(f"{t2}/resolve", {"root_cause": "nothing found", "resolution": "none",
                                    "root_cause_category": "no_fault_found", "attribution": "rejected"})
    at(400); post(f"{c1}/ack")
    at(600); post(f"{t1}/resolve", {"root_cause": "motor loop", "resolution": "rollback",
                                    "root_cause_category": "firmware", "attribution": "confirmed",
                                    "confirmed_attribute": "firmware=2.1.0"})
    at(900); post(f"{c1}/resolve", {"root_cause": "motor loop", "resolution": "rollback",
                                    "root_cause_category": "firmware", "attribution": "confirmed",
                                    "confirmed_attribute": "firmware=2.1.0"})
    at(1000); closed = post(f"{c1}/close", {"satisfaction": 5, "satisfaction_comment": "fixed the same day"})
    assert (closed["satisfaction"], closed["satisfaction_by"]) == (5, "technician")
    at(1200); post(f"{c2}/resolve", {"root_cause": "clogged filter", "resolution": "cleaned",
                                     "root_cause_category": "installation", "attribution": "corrected",
                                     "confirmed_attribute": "pump-2/filter"})
    return {"t0": t0, "ids": (t1, t2, c1, c2)}


def test_after_sales_kpis_by_source_and_day(client, auth, loop):
    t1, t2, c1, c2 = loop["ids"]
    link = client.post(f"/api/v1/tickets/{c2}/satisfaction-link", headers=auth("technician"))
    assert link.status_code == 200, link.text
    rated = client.post(link.json()["path"], json={"rating": 2, "comment": "took long"})  # no key: the customer
    assert rated.status_code == 200 and rated.json()["satisfaction"] == 2
    body = client.get("/api/v1/kpis", params={"by": "source"}, headers=auth("viewer")).json()
    overall = body["overall"]
    assert overall["first_response_s"] == 183.333  # (30 + 120 + 400) / 3: C2 never answered before resolution
    assert overall["handling_s"] == (600 + 300 + 900 + 1200) / 4
    assert (overall["localisation_accuracy"], overall["detector_precision"]) == (0.6667, 0.5)  # T1, C1 of T1, C1, C2
    assert (overall["rated"], overall["satisfaction"]) == (2, 3.5)
    groups = {g["key"]: g for g in body["groups"]}
    assert (groups["detector"]["tickets"], groups["detector"]["localisation_accuracy"]) == (2, 1.0)
    assert groups["detector"]["satisfaction"] is None  # only customer-reported tickets are rated
    assert (groups["customer"]["tickets"], groups["customer"]["localisation_accuracy"]) == (2, 0.5)
    days = client.get("/api/v1/kpis", params={"by": "day"}, headers=auth("viewer")).json()["groups"]
    assert [(g["key"], g["tickets"]) for g in days] == [("2026-01-01", 4)]


def test_one_time_link_refusals(client, auth, loop):
    t1, _, c1, c2 = loop["ids"]
    tech = auth("technician")
    assert client.post(f"/api/v1/tickets/{t1}/satisfaction-link", headers=tech).status_code == 409
    assert client.post(f"/api/v1/tickets/{c1}/satisfaction-link", headers=tech).status_code == 409  # rated
    assert client.post(f"/api/v1/tickets/{c2}/satisfaction-link").status_code == 401
    path = client.post(f"/api/v1/tickets/{c2}/satisfaction-link", headers=tech).json()["path"]
    bad = client.post(path, json={"rating": 7})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "rating"
    tampered = path[:-1] + ("1" if path.endswith("0") else "0")  # never the link itself (it may end in 0)
    assert client.post(tampered, json={"rating": 4}).status_code == 403
    assert client.post(path, json={"rating": 4}).status_code == 200
    assert client.post(path, json={"rating": 1}).status_code == 409
    closing = client.post(f"/api/v1/tickets/{t1}/close", json={"satisfaction": 4}, headers=tech)
    assert closing.status_code == 422 and "customer-reported" in closing.text


def test_the_customer_rates_on_the_page_of_the_link(client, auth, loop):
    """The link's page needs no sign-in: a form, then thanks; used or forged links say so, text escaped."""
    _, _, _, c2 = loop["ids"]
    page = client.post(f"/api/v1/tickets/{c2}/satisfaction-link", headers=auth("technician")).json()["page"]
    form = client.get(page)
    assert form.status_code == 200 and 'name="rating"' in form.text and f"Report #{c2}" in form.text
    assert "<script>" not in client.get(page).text.split("<main>")[1]
    unrated = client.post(page, data={"rating": "9", "comment": "<b>hmm</b>"})
    assert unrated.status_code == 422 and "&lt;b&gt;hmm&lt;/b&gt;" in unrated.text and "<b>hmm" not in unrated.text
    done = client.post(page, data={"rating": "4", "comment": "quick visit"})
    assert done.status_code == 200 and "Thank you for your rating." in done.text
    ticket = client.get(f"/api/v1/tickets/{c2}", headers=auth("viewer")).json()
    assert (ticket["satisfaction"], ticket["satisfaction_comment"], ticket["satisfaction_by"]) == \
        (4, "quick visit", "customer")
    again = client.get(page)
    assert again.status_code == 409 and 'name="rating"' not in again.text
    forged = client.get(page[:-2] + ("11" if page.endswith("00") else "00"))  # never the real link
    assert forged.status_code == 403 and "not valid" in forged.text


def test_kpi_gauges_on_metrics(client, auth, loop):
    text = client.get("/metrics", headers=auth("viewer")).text
    assert "faultline_kpi_tickets 4.0" in text
    assert "faultline_kpi_localisation_accuracy 0.6667" in text
    assert "faultline_kpi_detector_precision 0.5" in text
    assert "faultline_kpi_satisfaction 5.0" in text
    assert "faultline_kpi_handling_seconds 750.0" in text
