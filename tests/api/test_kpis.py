"""/api/v1/kpis against a hand-computed case: tickets with known open, ack, resolve and reopen times."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sql("sqlite", "postgresql")

S = 1000  # ms per second
PX_NEW = dict(model="PX-200", firmware="2.1.0", site="sh-03")
PX_OLD = dict(model="PX-200", firmware="2.0.4", site="sh-01")
FX = dict(model="FX-10", firmware="1.0.0", site="sh-03")


@pytest.fixture
def history(client, auth, clock, open_ticket, ticket_service, make_alert):
    """t0 = clock start. Every time below is seconds after t0.

    T1 PX-200/2.1.0/sh-03  opened 0, acked 60, resolved 600
    T2 PX-200/2.0.4/sh-01  opened 100, acked 400 (still acknowledged)
    T3 FX-10/1.0.0/sh-03   opened 200 (still open)
    T4 PX-200/2.1.0/sh-03  opened 300, acked 420, resolved 1500, recurred 2000 (reopened), acked 2090
    T0 PX-200/2.1.0/sh-03  opened ten days before t0, acked 5 s later: outside the range
    """
    t0 = clock.ms

    def at(seconds):
        clock.ms = t0 + seconds * S

    def post(ticket_id, action, body=None):
        assert client.post(f"/api/v1/tickets/{ticket_id}/{action}", json=body,
                           headers=auth("technician")).status_code == 200

    at(-10 * 86_400)
    old = open_ticket("pump-0", **PX_NEW)
    at(-10 * 86_400 + 5)
    post(old, "ack")
    at(0)
    t1 = open_ticket("pump-1", **PX_NEW)
    at(60)
    post(t1, "ack")
    at(100)
    t2 = open_ticket("pump-2", **PX_OLD)
    at(200)
    open_ticket("fan-1", **FX)
    at(300)
    t4 = open_ticket("pump-4", **PX_NEW)
    at(400)
    post(t2, "ack")
    at(420)
    post(t4, "ack")
    at(600)
    post(t1, "resolve", {"root_cause": "worn contactor", "resolution": "replaced"})
    at(1500)
    post(t4, "resolve", {"root_cause": "loose cable", "resolution": "re-crimped"})
    at(2000)
    assert ticket_service.apply(make_alert("pump-4", at_ms=clock.ms, **PX_NEW)).state == "reopened"
    at(2090)
    post(t4, "ack")
    return t0


MTT_FIELDS = ("tickets", "open", "acknowledged", "resolved", "auto_resolved", "recurred", "mtta_s", "mttr_s",
              "recurrence_rate")


def _get(client, auth, **params):
    response = client.get("/api/v1/kpis", params=params, headers=auth("viewer"))
    assert response.status_code == 200, response.text
    return response.json()


def test_overall_kpis_match_the_hand_computation(client, auth, history):
    body = _get(client, auth, **{"from": history, "to": history + 3_600 * S})
    # acks: T1 60 s, T2 300 s, T4 90 s after its reopen -> 150 s; fixes: T1 600 s (T4's reopen voids its fix)
    assert {k: body["overall"][k] for k in MTT_FIELDS} == {"tickets": 4, "open": 3, "acknowledged": 3, "resolved": 1, "auto_resolved": 0,
                               "recurred": 1, "mtta_s": 150.0, "mttr_s": 600.0, "recurrence_rate": 0.25}
    assert body["groups"] == [] and body["by"] is None


def test_kpis_by_model_firmware_and_site(client, auth, history):
    rng = {"from": history, "to": history + 3_600 * S}
    by_model = {g["key"]: g for g in _get(client, auth, by="model", **rng)["groups"]}
    assert (by_model["PX-200"]["tickets"], by_model["PX-200"]["mtta_s"], by_model["PX-200"]["mttr_s"],
            by_model["PX-200"]["recurrence_rate"]) == (3, 150.0, 600.0, 0.3333)
    assert (by_model["FX-10"]["tickets"], by_model["FX-10"]["open"], by_model["FX-10"]["mtta_s"],
            by_model["FX-10"]["recurrence_rate"]) == (1, 1, None, 0.0)
    by_fw = {g["key"]: (g["mtta_s"], g["mttr_s"], g["recurrence_rate"])
             for g in _get(client, auth, by="firmware", **rng)["groups"]}
    assert by_fw == {"1.0.0": (None, None, 0.0), "2.0.4": (300.0, None, 0.0), "2.1.0": (75.0, 600.0, 0.5)}
    by_site = {g["key"]: (g["tickets"], g["mtta_s"]) for g in _get(client, auth, by="site", **rng)["groups"]}
    assert by_site == {"sh-01": (1, 300.0), "sh-03": (3, 75.0)}


def test_without_a_range_every_ticket_counts(client, auth, history):
    overall = _get(client, auth)["overall"]
    assert overall["tickets"] == 5 and overall["mtta_s"] == round((5 + 60 + 300 + 90) / 4, 3)


def test_bad_kpi_parameters_are_422(client, auth, history):
    for params, field in [({"by": "colour"}, "by"), ({"from": "yesterday"}, "from"),
                          ({"from": history, "to": history}, "from"), ({"to": -1}, "to")]:
        response = client.get("/api/v1/kpis", params=params, headers=auth("viewer"))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field, params
