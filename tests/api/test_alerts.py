"""/api/v1/alerts: active alerts from an injected AlertManager, or from its SQL store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alerts.config import AlertConfig
from alerts.manager import AlertManager
from alerts.store import SqlAlertStore
from faultline.wiring import api_app
from detectors.anomaly import Anomaly

pytestmark = pytest.mark.sql("sqlite", "postgresql")


class InfluxEvents:
    """Alert events into the real InfluxDB, as the alert stage writes them."""

    def __init__(self, influx):
        self.influx = influx

    def write_lines(self, lines: list[str]) -> None:
        self.influx.write("\n".join(lines), precision="ms")


def _anomaly(subject, code, score, clock, scope="device", devices=()):
    return Anomaly("device_fault_rate" if scope == "device" else "cohort_fault_rate", scope, subject, code,
                   clock.ms, clock.ms, score, score * 2, 1.0, 3.0, 600.0, f"{code} on {subject}",
                   devices=devices, model="PX-200", firmware="2.1.0", site="sh-03")


@pytest.fixture
def manager(engine, influx, clock):
    config = AlertConfig(min_count=1, pending_s=0.0)
    mgr = AlertManager(config, SqlAlertStore(engine), InfluxEvents(influx), now=clock)
    for subject, code, score in [("pump-1", "E214", 4.0), ("pump-2", "E9", 30.0), ("pump-3", "E1", 3.5)]:
        mgr.observe(_anomaly(subject, code, score, clock))
    mgr.observe(_anomaly("model=PX-200,firmware=2.1.0", "E214", 9.0, clock, "cohort", ("pump-7", "pump-8")))
    clock.ms += 1000
    mgr.tick()
    return mgr


@pytest.fixture
def injected(settings, engine, influx, clock, manager):
    with TestClient(api_app(settings, engine=engine, influx=influx, alerts=manager, now=clock)) as c:
        yield c


def test_active_alerts_from_the_injected_manager(injected, auth, manager):
    body = injected.get("/api/v1/alerts", headers=auth("viewer")).json()
    assert [a["key"] for a in body["items"]] == [a.key for a in manager.active()]
    assert body["total"] == 4 and {a["state"] for a in body["items"]} == {"firing"}
    cohort = injected.get("/api/v1/alerts?scope=cohort", headers=auth("viewer")).json()["items"]
    assert [a["devices"] for a in cohort] == [["pump-7", "pump-8"]]
    assert cohort[0]["explanation"] == "E214 on model=PX-200,firmware=2.1.0"


def test_the_standalone_api_reads_the_same_alerts_from_sql(client, injected, auth, manager):
    stored = client.get("/api/v1/alerts", headers=auth("viewer")).json()
    live = injected.get("/api/v1/alerts", headers=auth("viewer")).json()
    assert stored == live and stored["total"] == 4


def test_filters_and_pages(injected, auth, manager):
    get = lambda q: injected.get(f"/api/v1/alerts?{q}", headers=auth("viewer")).json()  # noqa: E731
    severities = {a["subject"]: a["severity"] for a in get("")["items"]}
    one = severities["pump-2"]
    assert all(a["severity"] == one for a in get(f"severity={one}")["items"])
    assert [a["subject"] for a in get("subject=pump-8")["items"]] == ["model=PX-200,firmware=2.1.0"]
    assert [a["subject"] for a in get("subject=pump-1")["items"]] == ["pump-1"]
    assert get("state=pending")["items"] == []
    page = get("limit=3")
    assert len(page["items"]) == 3 and page["next_offset"] == 3 and len(get("offset=3")["items"]) == 1
    assert get("subject=it's \"x\"\\")["total"] == 0


def test_silenced_alerts_are_marked_and_filterable(injected, auth, manager, clock):
    created = injected.post("/api/v1/silences", json={"matchers": ["device=pump-3"], "duration_s": 3600},
                            headers=auth("technician")).json()
    clock.ms += 1000
    manager.tick()  # the manager reads the silences in force on each tick
    silenced = injected.get("/api/v1/alerts?silenced=true", headers=auth("viewer")).json()["items"]
    assert [(a["subject"], a["silenced_by"]) for a in silenced] == [("pump-3", created["id"])]
    loud = injected.get("/api/v1/alerts?silenced=false", headers=auth("viewer")).json()["items"]
    assert "pump-3" not in [a["subject"] for a in loud] and len(loud) == 3


def test_bad_alert_filters_are_422(injected, auth):
    for query, field in [("state=resolved", "state"), ("scope=fleet", "scope"), ("severity=loud", "severity.0"),
                         ("limit=500", "limit")]:
        response = injected.get(f"/api/v1/alerts?{query}", headers=auth("viewer"))
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field
