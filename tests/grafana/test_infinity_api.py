"""The Tickets and KPIs dashboard's API queries, run against the real Faultline API.

Each Infinity target is requested as the data source would request it (the
provisioned base URL plus the target's path, `${__from}`/`${__to}` replaced,
the viewer key as a Bearer header); its root selector must find rows and
every column selector a value, or the panel would be empty or show blanks.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from faultline.wiring import api_app
from api.keys import KeyStore
from database import make_engine, migrate
from faultline.settings import load_settings
from support.clock import T0, Clock
from support.dashboards import all_panels, load_dashboards

HOUR = 3_600_000


def _alert(subject: str, model: str, firmware: str, site: str, at_ms: int):
    from alerts.alert import Alert
    from detectors.anomaly import Anomaly

    anomaly = Anomaly("device_fault_rate", "device", subject, "E214", at_ms, at_ms, 5.0, 12.0, 1.0, 3.0, 600.0,
                      "E214 rate 12/h against 1/h", model=model, firmware=firmware, site=site)
    return Alert(anomaly.key, "device_fault_rate", "device", subject, "E214", "major", "firing", at_ms, at_ms,
                 None, 1, False, anomaly)


@pytest.fixture
def api(settings_env):
    """The real API on a fresh SQLite file: three tickets, one acknowledged and resolved."""
    from tickets.service import TicketService

    settings = load_settings(settings_env)
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    clock = Clock(T0)
    keys = KeyStore(engine, clock)
    viewer, technician = keys.create("grafana", "viewer")[1], keys.create("tech", "technician")[1]
    service = TicketService(engine, now=clock)
    ids = [service.apply(_alert(dev, "PX-200", fw, site, clock.ms)).id
           for dev, fw, site in (("px200-0004", "2.1.0", "sh-01"), ("px200-0005", "2.1.0", "sh-02"),
                                 ("px200-0009", "2.0.3", "sh-01"))]
    app = api_app(settings, engine=engine, now=clock)
    with TestClient(app) as client:
        tech = {"Authorization": f"Bearer {technician}"}
        clock.ms = T0 + 10 * 60_000
        assert client.post(f"/api/v1/tickets/{ids[0]}/ack", headers=tech).status_code == 200
        clock.ms = T0 + 2 * HOUR
        body = {"root_cause": "firmware 2.1.0 motor control regression", "resolution": "rolled back to 2.0.3"}
        assert client.post(f"/api/v1/tickets/{ids[0]}/resolve", headers=tech, json=body).status_code == 200
        yield client, {"Authorization": f"Bearer {viewer}"}
    engine.dispose()


def _infinity_targets() -> list[tuple[str, dict]]:
    dash = load_dashboards()["tickets-kpis.json"]
    return [(p["title"], t) for p in all_panels(dash) for t in p.get("targets", [])
            if t["datasource"]["uid"] == "faultline-api"]


def _select(doc, selector: str):
    for part in selector.split("."):
        doc = doc[part]
    return doc


@pytest.mark.parametrize("title,target", _infinity_targets(), ids=[t for t, _ in _infinity_targets()])
def test_api_panel_gets_rows_with_every_column(api, title, target):
    client, viewer = api
    url = target["url"].replace("${__from}", str(T0 - HOUR)).replace("${__to}", str(T0 + 3 * HOUR))
    resp = client.get(url, headers=viewer)
    assert resp.status_code == 200, resp.text
    rows = _select(resp.json(), target["root_selector"])
    assert rows, f"{title}: no rows at {target['root_selector']!r}"
    for row in rows:
        missing = [c["selector"] for c in target["columns"] if c["selector"] not in row]
        assert not missing, f"{title}: columns {missing} not in {sorted(row)}"


def test_open_tickets_panel_lists_only_open_ones(api):
    client, viewer = api
    (target,) = [t for title, t in _infinity_targets() if title == "Open tickets"]
    rows = client.get(target["url"], headers=viewer).json()["items"]
    assert sorted(r["subject"] for r in rows) == ["px200-0005", "px200-0009"]
    assert {r["state"] for r in rows} == {"open"}


def test_kpis_by_firmware_show_the_resolved_cohort(api):
    client, viewer = api
    (target,) = [t for title, t in _infinity_targets() if title == "KPIs by firmware"]
    url = target["url"].replace("${__from}", str(T0 - HOUR)).replace("${__to}", str(T0 + 3 * HOUR))
    groups = {g["key"]: g for g in client.get(url, headers=viewer).json()["groups"]}
    assert groups["2.1.0"]["tickets"] == 2 and groups["2.1.0"]["mtta_s"] == 600
    assert groups["2.1.0"]["mttr_s"] == 2 * 3600
    assert groups["2.0.3"]["mtta_s"] is None  # nothing acknowledged there: the cell stays blank, not zero


def test_api_panels_need_the_key(api):
    client, _ = api
    for _, target in _infinity_targets():
        url = target["url"].replace("${__from}", str(T0)).replace("${__to}", str(T0 + HOUR))
        assert client.get(url).status_code == 401
