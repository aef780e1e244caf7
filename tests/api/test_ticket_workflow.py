"""Ticket workflow over HTTP: every action, its history, 409 on invalid transitions, 422 on bad input."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sql("sqlite", "postgresql")


@pytest.fixture
def ticket(open_ticket):
    return open_ticket("pump-1")


def _post(client, auth, ticket_id, action, body=None, role="technician"):
    return client.post(f"/api/v1/tickets/{ticket_id}/{action}", json=body, headers=auth(role))


def test_full_lifecycle(client, auth, ticket, clock):
    start = clock.ms
    clock.ms = start + 120_000
    acked = _post(client, auth, ticket, "ack").json()
    assert (acked["state"], acked["acknowledged_ms"]) == ("acknowledged", start + 120_000)
    assigned = _post(client, auth, ticket, "assign", {"assignee": "ana", "team": "field-east"}).json()
    assert (assigned["assignee"], assigned["team"]) == ("ana", "field-east")
    commented = _post(client, auth, ticket, "comments", {"text": "  replaced the contactor  "})
    assert commented.status_code == 201 and commented.json()["comments"][-1]["text"] == "replaced the contactor"
    clock.ms = start + 3_600_000
    resolved = _post(client, auth, ticket, "resolve", {"root_cause": "worn contactor", "resolution": "replaced"}).json()
    assert (resolved["state"], resolved["resolved_ms"], resolved["root_cause"], resolved["resolved_by"]) == (
        "resolved", start + 3_600_000, "worn contactor", "technician key")
    reopened = _post(client, auth, ticket, "reopen", {"reason": "fault is back"}).json()
    assert reopened["state"] == "reopened" and reopened["root_cause"] is None
    _post(client, auth, ticket, "resolve", {"root_cause": "cable", "resolution": "re-crimped"})
    closed = _post(client, auth, ticket, "close").json()
    assert closed["state"] == "closed"
    kinds = [h["kind"] for h in closed["history"]]
    assert kinds == ["opened", "acknowledged", "assigned", "commented", "resolved", "reopened", "resolved", "closed"]
    assert {h["user"] for h in closed["history"][1:]} == {"technician key"}


@pytest.mark.parametrize("setup,action,body", [
    ([], "reopen", {"reason": "x"}),  # open cannot be reopened
    ([], "close", None),  # only a resolved ticket closes
    (["ack"], "ack", None),  # acknowledged twice
    (["resolve"], "ack", None),
    (["resolve"], "resolve", {"root_cause": "a", "resolution": "b"}),
    (["resolve"], "assign", {"assignee": "ana"}),
])
def test_invalid_transitions_are_409(client, auth, ticket, setup, action, body):
    bodies = {"resolve": {"root_cause": "a", "resolution": "b"}}
    for step in setup:
        assert _post(client, auth, ticket, step, bodies.get(step)).status_code == 200
    before = client.get(f"/api/v1/tickets/{ticket}", headers=auth("viewer")).json()
    response = _post(client, auth, ticket, action, body)
    assert response.status_code == 409
    assert f"ticket {ticket} is {before['state']}" in response.json()["detail"]
    after = client.get(f"/api/v1/tickets/{ticket}", headers=auth("viewer")).json()
    assert after["version"] == before["version"]  # nothing changed


@pytest.mark.parametrize("action,body,field", [
    ("resolve", {"resolution": "replaced"}, "root_cause"),
    ("resolve", {"root_cause": "worn", "resolution": "   "}, "resolution"),
    ("resolve", {"root_cause": "x" * 10_001, "resolution": "y"}, "root_cause"),
    ("resolve", None, "body"),
    ("assign", {"team": "east"}, "assignee"),
    ("assign", {"assignee": "ana", "colour": "red"}, "colour"),
    ("comments", {"text": ""}, "text"),
    ("comments", {"text": 42}, "text"),
    ("reopen", {}, "reason"),
])
def test_bad_bodies_are_422_naming_the_field(client, auth, ticket, action, body, field):
    response = _post(client, auth, ticket, action, body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert field in response.json()["detail"]


def test_malformed_json_is_422(client, auth, ticket):
    response = client.post(f"/api/v1/tickets/{ticket}/resolve", content=b"{not json",
                           headers={**auth("technician"), "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
    assert response.json()["detail"].startswith("body: invalid JSON at character 1")


def test_changes_are_queued_for_the_webhook_when_one_is_configured(settings_env, engine, influx, clock, auth,
                                                                    open_ticket):
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from faultline.wiring import api_app
    from faultline.settings import load_settings
    from tickets.models import OutboxRow

    env = dict(settings_env, FAULTLINE_TICKETS_WEBHOOK_URL="http://127.0.0.1:9/hook",
               FAULTLINE_TICKETS_WEBHOOK_SECRET="s3cret")
    ticket = open_ticket("pump-1")
    with TestClient(api_app(load_settings(env), engine=engine, influx=influx, now=clock)) as c:
        assert c.post(f"/api/v1/tickets/{ticket}/ack", headers=auth("technician")).status_code == 200
    with engine.connect() as conn:
        events = conn.execute(select(OutboxRow.event).where(OutboxRow.ticket_id == ticket)).scalars().all()
    assert events == ["acknowledged"]
