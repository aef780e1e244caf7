"""Offline checks of Grafana provisioning and dashboards (no Grafana server needed)."""

from __future__ import annotations

import importlib.util
import re

import pytest
import yaml

from support.dashboards import GRAFANA, all_panels, check_influxql, influxql_queries, load_dashboards, load_schema


def _provisioned_datasources() -> list[dict]:
    doc = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "faultline.yaml").read_text())
    assert doc["apiVersion"] == 1
    return doc["datasources"]


def test_datasources_have_fixed_uids_and_env_backed_secrets():
    by_uid = {ds["uid"]: ds for ds in _provisioned_datasources()}
    influx = by_uid["faultline-influx"]
    assert influx["type"] == "influxdb" and influx["jsonData"]["version"] == "InfluxQL"
    assert influx["url"] == "${DS_INFLUX_URL}" and influx["jsonData"]["dbName"] == "${DS_INFLUX_DB}"
    assert influx["secureJsonData"]["password"] == "${DS_INFLUX_PASSWORD}"
    api = by_uid["faultline-api"]
    assert api["type"] == "yesoreyeram-infinity-datasource"
    assert api["jsonData"]["auth_method"] == "bearerToken"
    assert api["secureJsonData"]["bearerToken"] == "${DS_API_KEY}"
    assert api["jsonData"]["allowedHosts"] == [api["url"]]


def test_dashboard_provider_points_at_the_mounted_folder():
    doc = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "faultline.yaml").read_text())
    (provider,) = doc["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/faultline"


def test_three_dashboards_with_unique_uids():
    dashboards = load_dashboards()
    assert set(dashboards) == {"fleet-overview.json", "device.json", "tickets-kpis.json"}
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)


def test_committed_json_is_the_generators_output():
    spec = importlib.util.spec_from_file_location("build_dashboards", GRAFANA / "build_dashboards.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, text in build.render().items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, f"{name} is stale: run python grafana/build_dashboards.py"


@pytest.mark.parametrize("name", sorted(load_dashboards()))
def test_every_datasource_uid_is_provisioned(name):
    provisioned = {ds["uid"] for ds in _provisioned_datasources()} | {"-- Grafana --"}
    dash = load_dashboards()[name]
    used = []
    for panel in all_panels(dash):
        if panel["type"] == "row":
            continue
        used.append(panel["datasource"]["uid"])
        used.extend(t["datasource"]["uid"] for t in panel["targets"])
    used.extend(v["datasource"]["uid"] for v in dash["templating"]["list"] if "datasource" in v)
    used.extend(a["datasource"]["uid"] for a in dash["annotations"]["list"])
    assert used and set(used) <= provisioned, set(used) - provisioned


@pytest.mark.parametrize("name", sorted(load_dashboards()))
def test_panel_ids_unique_and_grid_within_24_columns(name):
    panels = all_panels(load_dashboards()[name])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {name}"
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, (p["title"], pos)
    # No two panels overlap on the grid.
    cells = {}
    for p in panels:
        pos = p["gridPos"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{p['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = p["title"]


def test_every_query_is_collected():
    queries = influxql_queries()
    kinds = {(q.dashboard, q.kind) for q in queries}
    assert ("device.json", "variable") in kinds
    assert {("fleet-overview.json", "annotation"), ("device.json", "annotation"), ("tickets-kpis.json", "annotation")} <= kinds
    assert len([q for q in queries if q.kind == "panel"]) >= 25


def test_dashboard_query_uses_schema_only(dashboard_query):
    problems = check_influxql(dashboard_query.text, load_schema())
    assert not problems, f"{dashboard_query.where}: {problems}"


def test_dashboard_query_filters_time(dashboard_query):
    q = dashboard_query.text
    if dashboard_query.kind == "variable":
        assert q.upper().startswith("SHOW TAG VALUES")
        return
    assert "$timeFilter" in q, f"{dashboard_query.where} lacks $timeFilter"
    for bucket in re.findall(r"GROUP BY\s+time\(([^)]*)\)", q, flags=re.I):
        assert bucket == "$__interval", f"{dashboard_query.where} groups by time({bucket})"


@pytest.mark.parametrize("query,problem", [
    ('SELECT mean("temp") FROM "telemetry" WHERE $timeFilter', "not a field"),
    ('SELECT count("code") FROM "device_event" WHERE $timeFilter', "unknown measurement"),
    ('SELECT count("code") FROM "device_events" WHERE $timeFilter GROUP BY time($__interval), "code"', "not a tag"),
    ('SELECT count(code) FROM "device_events" WHERE $timeFilter', "unquoted"),
    ('SELECT "score" FROM "anomalies" WHERE "score" = \'high\' AND $timeFilter', "compared with a string"),
])
def test_checker_catches_mistakes(query, problem):
    problems = check_influxql(query, load_schema())
    assert any(problem in p for p in problems), problems


def test_checker_accepts_subqueries_and_aliases():
    q = ('SELECT "alert", "subject" FROM (SELECT last("text") AS "text", "state", "subject" FROM "alert_events" '
         'WHERE $timeFilter GROUP BY "alert") WHERE "state" = \'firing\'')
    assert check_influxql(q, load_schema()) == []


def test_error_levels_are_highlighted_in_the_logs_table():
    device = load_dashboards()["device.json"]
    (logs,) = [p for p in all_panels(device) if p["title"] == "Logs"]
    (level,) = [o for o in logs["fieldConfig"]["overrides"] if o["matcher"]["options"] == "level"]
    props = {p["id"]: p["value"] for p in level["properties"]}
    colors = props["mappings"][0]["options"]
    assert colors["ERROR"]["color"] == "red" and colors["FATAL"]["color"] == "dark-red"
    assert props["custom.cellOptions"]["type"] == "color-background"


def test_device_variable_and_alert_annotations():
    device = load_dashboards()["device.json"]
    (var,) = [v for v in device["templating"]["list"] if v["name"] == "device"]
    assert var["query"] == 'SHOW TAG VALUES FROM "telemetry" WITH KEY = "device"'
    influx_annotations = [a for a in device["annotations"]["list"] if a["datasource"]["uid"] == "faultline-influx"]
    alert_annotations = [a for a in influx_annotations if '"alert_events"' in a["query"]]
    assert alert_annotations and all('"subject" =~ /^$device$/' in a["query"] for a in alert_annotations)
    assert all(a["textColumn"] == "text" for a in alert_annotations)


def test_tickets_dashboard_reads_the_api_through_infinity():
    tickets = load_dashboards()["tickets-kpis.json"]
    urls = [t["url"] for p in all_panels(tickets) for t in p.get("targets", []) if t["datasource"]["uid"] == "faultline-api"]
    assert any(u.startswith("/api/v1/tickets?state=open") for u in urls)
    assert {u.split("?")[0] for u in urls} == {"/api/v1/tickets", "/api/v1/kpis"}
    assert all(u.startswith("/api/v1/") for u in urls)  # relative: the data source holds the base URL and key


def test_ticket_links_open_the_device_dashboard():
    """The Grafana link on each ticket (FAULTLINE_TICKETS_GRAFANA_LINK) names this dashboard and its variable."""
    from faultline.settings import Settings

    link = Settings.model_fields["tickets_grafana_link"].default
    uid, query = re.search(r"/d/([^/?]+)[^?]*\?(.*)", link).groups()
    device = load_dashboards()["device.json"]
    assert uid == device["uid"]
    variables = {v["name"] for v in device["templating"]["list"]}
    assert {m for m in re.findall(r"var-(\w+)=", query)} <= variables
