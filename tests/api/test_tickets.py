"""/api/v1/tickets: lists with filters and pages, detail, and the workflow, on the real ticket store."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sql("sqlite", "postgresql")

HOSTILE = 'sh-"03\'\\; DROP TABLE tickets; --'


@pytest.fixture
def six(open_ticket, clock):
    """Six tickets with varied attributes; ids in opening order."""
    ids = {}
    for name, subject, code, kw in [
        ("a", "pump-1", "E214", dict(severity="major")),
        ("b", "pump-2", "E214", dict(severity="critical", firmware="2.0.4")),
        ("c", "fan-1", "E9", dict(severity="minor", model="FX-10", site="sh-01")),
        ("d", "pump-3", "E214", dict(severity="major", site=HOSTILE)),
        ("e", "model=PX-200,firmware=2.1.0", "E214",
         dict(scope="cohort", detector="cohort_fault_rate", devices=("pump-7", "pump-8"), severity="critical")),
        ("f", "pump-4", "E1", dict(severity="info")),
    ]:
        clock.ms += 60_000
        ids[name] = open_ticket(subject, code, **kw)
    return ids


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [t["id"] for t in response.json()["items"]]


def test_list_newest_first_with_total_and_pages(client, auth, six):
    newest_first = [six[k] for k in "fedcba"]
    body = client.get("/api/v1/tickets", headers=auth("viewer")).json()
    assert body["total"] == 6 and [t["id"] for t in body["items"]] == newest_first
    first = client.get("/api/v1/tickets?limit=4", headers=auth("viewer")).json()
    rest = client.get(f"/api/v1/tickets?limit=4&offset={first['next_offset']}", headers=auth("viewer")).json()
    assert [t["id"] for t in first["items"] + rest["items"]] == newest_first
    assert (first["total"], first["next_offset"], rest["total"], rest["next_offset"]) == (6, 4, 6, None)
    past_end = client.get("/api/v1/tickets?offset=50", headers=auth("viewer")).json()
    assert past_end["items"] == [] and past_end["total"] == 6


def test_filters(client, auth, six, ticket_service, clock):
    get = lambda query: _ids(client.get(f"/api/v1/tickets?{query}", headers=auth("viewer")))  # noqa: E731
    assert get("severity=critical") == [six["e"], six["b"]]
    assert get("severity=minor&severity=info") == [six["f"], six["c"]]
    assert get("model=FX-10") == [six["c"]]
    assert get("firmware=2.0.4") == [six["b"]]
    assert get("site=sh-01") == [six["c"]]
    assert get("device=pump-1") == [six["a"]]
    assert get("device=pump-8") == [six["e"]]  # an affected device of the cohort ticket
    assert get("code=E214&severity=major") == [six["d"], six["a"]]
    assert get("model=PX-200&severity=critical&firmware=2.1.0") == [six["e"]]
    client.post(f"/api/v1/tickets/{six['a']}/ack", headers=auth("technician"))
    assert get("state=acknowledged") == [six["a"]]
    assert get("state=open") == [six[k] for k in "fedcb"]
    assert get("state=active&device=pump-1") == [six["a"]]
    assert get("state=resolved") == []


def test_hostile_filter_values_match_exactly(client, auth, six):
    exact = client.get("/api/v1/tickets", params={"site": HOSTILE}, headers=auth("viewer"))
    assert _ids(exact) == [six["d"]]
    for value in (HOSTILE[:-1], "' OR '1'='1", "\\", '"', "%", "_", "pump-%"):
        for name in ("site", "device", "model", "firmware"):
            response = client.get("/api/v1/tickets", params={name: value}, headers=auth("viewer"))
            assert response.status_code == 200 and response.json()["total"] == 0, (name, value)


def test_bad_list_parameters_are_422_naming_the_field(client, auth):
    for query, field in [("limit=201", "limit"), ("limit=0", "limit"), ("offset=-1", "offset"),
                         ("state=sleeping", "state.0"), ("severity=huge", "severity.0"),
                         ("limit=ten", "limit"), ("include_merged=maybe", "include_merged")]:
        response = client.get(f"/api/v1/tickets?{query}", headers=auth("viewer"))
        assert response.status_code == 422, query
        assert response.json()["errors"][0]["field"] == field
        assert response.json()["detail"].startswith(field + ":")


def test_detail_carries_devices_children_comments_and_history(client, auth, six, ticket_service, clock,
                                                               make_alert):
    parent_key = make_alert("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate").key
    clock.ms += 1000
    ticket_service.apply(make_alert("pump-9", parent_key=parent_key, at_ms=clock.ms))
    client.post(f"/api/v1/tickets/{six['e']}/comments", json={"text": "firmware 2.1.0 rollout"},
                headers=auth("technician"))
    detail = client.get(f"/api/v1/tickets/{six['e']}", headers=auth("viewer")).json()
    assert detail["devices"] == ["pump-7", "pump-8", "pump-9"]
    assert {c["device"]: c["child_key"] for c in detail["children"]} == {
        "pump-7": None, "pump-8": None, "pump-9": "device_fault_rate|device|pump-9|E214"}
    assert [(c["user"], c["text"]) for c in detail["comments"]] == [("technician key", "firmware 2.1.0 rollout")]
    assert [h["kind"] for h in detail["history"]] == ["opened", "child_attached", "commented"]
    assert detail["evidence"]["explanation"]["text"] == "E214 rate 12.0 vs 1.0 expected"
    assert detail["scope"] == "cohort" and detail["opened_at"].startswith("2026-01-01T00:05:00")


def test_unknown_ticket_is_404_on_every_ticket_route(client, auth):
    bodies = {"assign": {"assignee": "ana"}, "comments": {"text": "x"},
              "resolve": {"root_cause": "x", "resolution": "y"}, "reopen": {"reason": "z"}}
    assert client.get("/api/v1/tickets/9999", headers=auth("viewer")).status_code == 404
    for action in ("ack", "assign", "comments", "resolve", "reopen", "close"):
        response = client.post(f"/api/v1/tickets/9999/{action}", json=bodies.get(action), headers=auth("technician"))
        assert response.status_code == 404, action
        assert "9999" in response.json()["detail"]
    bad_id = client.get("/api/v1/tickets/0", headers=auth("viewer"))
    assert bad_id.status_code == 422 and bad_id.json()["errors"][0]["field"] == "ticket_id"


def test_detail_shows_evidence_gathered_from_influxdb(client, auth, engine, influx, clock, make_alert):
    from ingest.points import line_for
    from ingest.records import Cohort, LogLine
    from tickets.influx_evidence import InfluxEvidence
    from tickets.service import TicketService

    cohort = Cohort("PX-200", "2.1.0", "sh-03")
    influx.write("\n".join(line_for(r) for r in [
        LogLine("pump-1", clock.ms - 20_000, 1, "INFO", "motor", "I001", "start", cohort),
        LogLine("pump-1", clock.ms - 10_000, 2, "ERROR", "motor", "E214", "overcurrent on phase B", cohort),
    ]), precision="ns")
    service = TicketService(engine, InfluxEvidence(influx), now=clock)
    ticket = service.apply(make_alert("pump-1", at_ms=clock.ms))
    evidence = client.get(f"/api/v1/tickets/{ticket.id}", headers=auth("viewer")).json()["evidence"]
    assert evidence["complete"] is True
    assert [(e["level"], e["msg"]) for e in evidence["logs"]] == [("ERROR", "overcurrent on phase B"),
                                                                   ("INFO", "start")]


def test_unknown_query_parameters_are_422_not_ignored(client, auth, six):
    response = client.get("/api/v1/tickets?stat=open", headers=auth("viewer"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "stat"
    assert "state" in response.json()["detail"]  # the message lists what the route takes
    devices = client.get("/api/v1/devices/pump-1/logs?levle=ERROR", headers=auth("viewer"))
    assert devices.status_code == 422 and devices.json()["errors"][0]["field"] == "levle"
    kpis = client.get("/api/v1/kpis?from=1&to=2", headers=auth("viewer"))
    assert kpis.status_code == 200  # aliases count as known


def test_a_device_ticket_folded_into_a_cohort_ticket(client, auth, open_ticket, ticket_service, clock, make_alert):
    own = open_ticket("pump-9")
    clock.ms += 60_000
    cohort = open_ticket("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate")
    parent_key = make_alert("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate").key
    clock.ms += 1000
    ticket_service.apply(make_alert("pump-9", parent_key=parent_key, at_ms=clock.ms))
    assert _ids(client.get("/api/v1/tickets", headers=auth("viewer"))) == [cohort]
    assert _ids(client.get("/api/v1/tickets?include_merged=true", headers=auth("viewer"))) == [cohort, own]
    assert _ids(client.get("/api/v1/tickets?device=pump-9", headers=auth("viewer"))) == [cohort]
    parent = client.get(f"/api/v1/tickets/{cohort}", headers=auth("viewer")).json()
    assert parent["merged"] == [own] and "pump-9" in parent["devices"]
    folded = client.get(f"/api/v1/tickets/{own}", headers=auth("viewer")).json()
    assert (folded["state"], folded["merged_into"]) == ("closed", cohort)
    reopen = client.post(f"/api/v1/tickets/{own}/reopen", json={"reason": "x"}, headers=auth("technician"))
    assert reopen.status_code == 409 and "merged" in reopen.json()["detail"]
