"""Write Faultline's Grafana dashboards (``grafana/dashboards/*.json``).

The JSON files are committed so Grafana's file provider can load them as they
are; this script is their source. Edit it, run it, commit both:

    python grafana/build_dashboards.py          # rewrite the JSON files
    python grafana/build_dashboards.py --check  # exit 1 if a file is stale

Conventions the tests rely on (tests/grafana/): every InfluxQL identifier is
double-quoted, every panel query carries ``$timeFilter`` and groups by
``time($__interval)`` when it groups by time, and data sources are named by the
fixed uids of ``grafana/provisioning/datasources/faultline.yaml``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"

INFLUX = {"type": "influxdb", "uid": "faultline-influx"}
API = {"type": "yesoreyeram-infinity-datasource", "uid": "faultline-api"}
DEVICE_UID = "faultline-device"
DEVICE_LINK = f"/d/{DEVICE_UID}/device?var-device=${{__value.raw}}&${{__url_time_range}}"
LEVEL_COLORS = {"DEBUG": "text", "INFO": "blue", "WARN": "orange", "ERROR": "red", "FATAL": "dark-red"}
SEVERITY_COLORS = {"critical": "dark-red", "major": "red", "minor": "orange", "info": "blue"}
EVENT_COLORS = {"fault": "red", "fault_cleared": "green", "reboot": "purple",
                "maintenance": "blue", "firmware_update": "yellow"}


# --- queries and panels -------------------------------------------------------

def influx(query: str, ref: str = "A", fmt: str = "time_series", alias: str = "") -> dict:
    target = {"refId": ref, "datasource": INFLUX, "query": query, "rawQuery": True, "resultFormat": fmt}
    if alias:
        target["alias"] = alias
    return target


def infinity(path: str, root: str, columns: list[tuple[str, str, str]], ref: str = "A") -> dict:
    """An Infinity JSON query against the Faultline API (the data source holds the base URL)."""
    return {
        "refId": ref, "datasource": API, "type": "json", "source": "url", "parser": "backend",
        "format": "table", "url": path, "url_options": {"method": "GET", "data": ""},
        "root_selector": root,
        "columns": [{"selector": s, "text": t, "type": k} for s, t, k in columns],
    }


class Grid:
    """Panel ids and positions: panels flow left to right in rows 24 units wide."""

    def __init__(self):
        self.next_id, self.x, self.y, self.row_h = 1, 0, 0, 0

    def place(self, w: int, h: int) -> tuple[int, dict]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.next_id += 1
        return self.next_id - 1, pos

    def row(self, title: str) -> dict:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pid, pos = self.place(24, 1)
        self.x, self.y, self.row_h = 0, self.y + 1, 0
        return {"id": pid, "type": "row", "title": title, "collapsed": False, "gridPos": pos, "panels": []}


def panel(grid: Grid, kind: str, title: str, targets: list[dict], w: int, h: int, *,
          description: str = "", unit: str = "", custom: dict | None = None, options: dict | None = None,
          overrides: list | None = None, transformations: list | None = None, defaults: dict | None = None) -> dict:
    pid, pos = grid.place(w, h)
    field_defaults = {"custom": custom or {}}
    if unit:
        field_defaults["unit"] = unit
    field_defaults.update(defaults or {})
    p = {
        "id": pid, "type": kind, "title": title, "description": description, "gridPos": pos,
        "datasource": targets[0]["datasource"], "targets": targets,
        "fieldConfig": {"defaults": field_defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        p["transformations"] = transformations
    return p


def timeseries(grid, title, targets, w=12, h=8, bars=False, stacked=False, **kw) -> dict:
    custom = {"drawStyle": "bars" if bars else "line", "fillOpacity": 60 if bars else 10,
              "lineWidth": 1, "showPoints": "never" if bars else "auto", "spanNulls": False,
              "stacking": {"mode": "normal" if stacked else "none", "group": "A"}}
    options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel(grid, "timeseries", title, targets, w, h, custom=custom, options=options, **kw)


def table(grid, title, targets, w=24, h=8, **kw) -> dict:
    options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    return panel(grid, "table", title, targets, w, h, custom={"align": "auto", "filterable": True},
                 options=options, **kw)


def stat(grid, title, targets, w=4, h=4, **kw) -> dict:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "value", "graphMode": "none", "textMode": "auto", "justifyMode": "auto"}
    return panel(grid, "stat", title, targets, w, h, options=options, **kw)


def color_mapping(colors: dict[str, str]) -> dict:
    return {"type": "value", "options": {value: {"color": color, "index": i}
                                         for i, (value, color) in enumerate(colors.items())}}


def colored_column(name: str, colors: dict[str, str]) -> dict:
    """Override: a table column whose cell background follows its value (ERROR red...)."""
    return {"matcher": {"id": "byName", "options": name}, "properties": [
        {"id": "mappings", "value": [color_mapping(colors)]},
        {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
        {"id": "custom.width", "value": 90},
    ]}


def series_colors(colors: dict[str, str]) -> list[dict]:
    return [{"matcher": {"id": "byName", "options": name},
             "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}
            for name, color in colors.items()]


def link_column(name: str, url: str, title: str) -> dict:
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "links", "value": [{"title": title, "url": url}]}]}


def annotation(name: str, query: str, color: str, enable: bool = True, tags: str = "state,severity") -> dict:
    return {"name": name, "datasource": INFLUX, "enable": enable, "hide": False, "iconColor": color,
            "query": query, "textColumn": "text", "tagsColumn": tags, "titleColumn": ""}


PUSHED = {"name": "Pushed alert annotations", "datasource": {"type": "grafana", "uid": "-- Grafana --"},
          "enable": False, "hide": False, "iconColor": "purple",
          "target": {"type": "tags", "tags": ["faultline"], "limit": 500, "matchAny": False}}

MERGE = [{"id": "merge", "options": {}}]

# `mean(*)` returns a column for every metric of the measurement, all-null for
# the metrics of other device models: keep those out of the legend and tooltip
# (Grafana's own "hide series with only nulls").
HIDE_EMPTY = {"matcher": {"id": "byValue", "options": {"reducer": "allIsNull", "op": "gte", "value": 0}},
              "properties": [{"id": "custom.hideFrom", "value": {"tooltip": True, "viz": False, "legend": True}}]}


def dashboard(uid: str, title: str, description: str, panels: list, *, variables=(), annotations=()) -> dict:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["faultline"],
        "editable": True, "graphTooltip": 1, "timezone": "browser", "schemaVersion": 39, "version": 1,
        "time": {"from": "now-6h", "to": "now"}, "refresh": "1m", "liveNow": False,
        "links": [{"type": "dashboards", "tags": ["faultline"], "asDropdown": True, "title": "Faultline",
                   "includeVars": False, "keepTime": True}],
        "templating": {"list": list(variables)},
        "annotations": {"list": list(annotations) + [PUSHED]},
        "panels": panels,
    }


# --- the dashboards -----------------------------------------------------------

FAULTS_BY = '''SELECT count("code") FROM "device_events" WHERE "type" = 'fault' AND $timeFilter GROUP BY time($__interval), "{tag}" fill(0)'''


def _fleet_overview_faults(g: Grid) -> list[dict]:
    p = [g.row("Faults")]
    for tag in ("model", "firmware", "site"):
        p.append(timeseries(g, f"Fault events by {tag}", [influx(FAULTS_BY.format(tag=tag), alias=f"$tag_{tag}")],
                            bars=True, stacked=True, description=f"Device fault events per interval, by {tag}."))
    p.append(timeseries(g, "ERROR and FATAL log lines by firmware", [influx(
        '''SELECT count("msg") FROM "device_logs" WHERE "level" =~ /^(ERROR|FATAL)$/ AND $timeFilter '''
        '''GROUP BY time($__interval), "firmware" fill(0)''', alias="$tag_firmware")],
        bars=True, stacked=True, description="Error-level log lines per interval; a rise on one firmware is the batch problem."))
    p.append(table(g, "Faults by cohort", [influx(
        '''SELECT count("code") AS "faults" FROM "device_events" WHERE "type" = 'fault' AND $timeFilter '''
        '''GROUP BY "model", "firmware", "site"''', fmt="table")], h=8, transformations=MERGE + [
            {"id": "sortBy", "options": {"sort": [{"field": "faults", "desc": True}]}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        description="Fault events in the time range per model x firmware x site cohort, most first."))
    return p


def _fleet_overview_alerts(g: Grid) -> list[dict]:
    p = [g.row("Alerts")]
    p.append(stat(g, "Devices online", w=6, targets=[influx(
        '''SELECT sum("online") FROM (SELECT last("online") AS "online" FROM "device_status" WHERE $timeFilter GROUP BY "device")''',
        fmt="table")], defaults={"color": {"mode": "fixed", "fixedColor": "green"}},
        description="Devices whose latest status message in the range says online."))
    p.append(stat(g, "Devices offline", w=6, targets=[influx(
        '''SELECT count("online") - sum("online") FROM (SELECT last("online") AS "online" FROM "device_status" WHERE $timeFilter GROUP BY "device")''',
        fmt="table")], defaults={"thresholds": {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "red", "value": 1}]}},
        description="Devices whose latest status message (or will) in the range says offline."))
    p.append(stat(g, "Firing alerts", w=6, targets=[influx(
        '''SELECT count("text") FROM (SELECT last("text") AS "text", "state" FROM "alert_events" WHERE $timeFilter '''
        '''GROUP BY "alert") WHERE "state" = 'firing' ''', fmt="table")],
        defaults={"noValue": "0", "thresholds": {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "red", "value": 1}]}},
        description="Alerts whose latest transition in the range is `firing`."))
    p.append(stat(g, "Dead letters", w=6, targets=[influx(
        '''SELECT sum("messages") FROM "ingest_stats" WHERE "stage" =~ /^(decode|validate|write)$/ AND $timeFilter''', fmt="table")],
        defaults={"noValue": "0", "thresholds": {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "orange", "value": 1}]}},
        description="Messages refused in the range and kept in the dead-letter store (`faultline deadletters list`)."))
    p.append(timeseries(g, "Alerts fired by severity", [influx(
        '''SELECT count("text") FROM "alert_events" WHERE "state" = 'firing' AND $timeFilter '''
        '''GROUP BY time($__interval), "severity" fill(0)''', alias="$tag_severity")], w=24, h=7, bars=True, stacked=True,
        overrides=series_colors(SEVERITY_COLORS)))
    p.append(table(g, "Active alerts", [influx(
        '''SELECT "alert", "severity", "subject", "text", "ticket" FROM (SELECT last("text") AS "text", "state", '''
        '''"severity", "subject", "ticket" FROM "alert_events" WHERE $timeFilter GROUP BY "alert") WHERE "state" = 'firing' ''',
        fmt="table")], h=8, description="Alerts whose latest transition in the range is `firing`.",
        overrides=[colored_column("severity", SEVERITY_COLORS),
                   link_column("subject", DEVICE_LINK, "Open device")]))
    p.append(table(g, "Cohort anomalies", [influx(
        '''SELECT "subject", "score", "observed", "expected", "attribution", "explanation" FROM "anomalies" '''
        '''WHERE "scope" = 'cohort' AND $timeFilter ORDER BY time DESC LIMIT 200''', fmt="table")], h=8,
        description="Cohorts whose fault rate per active device stands out from the fleet, newest first; "
                    "`attribution` names the attribute that explains the excess (e.g. firmware=2.1.0)."))
    return p


def _fleet_overview_ingest(g: Grid) -> list[dict]:
    p = [g.row("Ingest health")]
    p.append(timeseries(g, "Messages stored", [influx(
        '''SELECT sum("messages") FROM "ingest_stats" WHERE "stage" = 'stored' AND $timeFilter GROUP BY time($__interval) fill(0)''',
        alias="stored")], w=8, description="Device messages written to InfluxDB per interval."))
    p.append(timeseries(g, "Dead letters by reason", [influx(
        '''SELECT sum("messages") FROM "ingest_stats" WHERE "stage" =~ /^(decode|validate|write)$/ AND $timeFilter '''
        '''GROUP BY time($__interval), "stage", "reason" fill(0)''', alias="$tag_stage: $tag_reason")],
        w=8, bars=True, stacked=True, description="Messages kept in the dead-letter store, by stage and reason; list and replay them with `faultline deadletters`."))
    p.append(timeseries(g, "Dead letters by firmware", [influx(
        '''SELECT sum("messages") FROM "ingest_stats" WHERE "stage" =~ /^(decode|validate|write)$/ AND $timeFilter '''
        '''GROUP BY time($__interval), "firmware" fill(0)''', alias="$tag_firmware")], w=8, bars=True, stacked=True))
    p.append(timeseries(g, "Missing messages (sequence gaps) by topic", [influx(
        '''SELECT sum("missing") FROM "ingest_gaps" WHERE $timeFilter GROUP BY time($__interval), "topic" fill(0)''',
        alias="$tag_topic")], bars=True, stacked=True,
        description="Messages a device numbered but Faultline never received (completeness ledger)."))
    p.append(table(g, "Devices with gaps", [influx(
        '''SELECT sum("missing") AS "missing" FROM "ingest_gaps" WHERE $timeFilter GROUP BY "device", "topic"''',
        fmt="table")], w=12, transformations=MERGE + [
            {"id": "sortBy", "options": {"sort": [{"field": "missing", "desc": True}]}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        overrides=[link_column("device", DEVICE_LINK, "Open device")]))
    return p


def fleet_overview() -> dict:
    g = Grid()
    p = _fleet_overview_faults(g) + _fleet_overview_alerts(g) + _fleet_overview_ingest(g)
    return dashboard("faultline-fleet", "Faultline / Fleet overview",
                     "Fault rates by model, firmware and site; active alerts; ingest health.", p,
                     annotations=[annotation("Alerts firing", '''SELECT "text", "state", "severity", "subject" FROM "alert_events" WHERE "state" = 'firing' AND $timeFilter''', "red")])


DEVICE = '''"device" =~ /^$device$/'''


def _device_header(g: Grid) -> list[dict]:
    p = [g.row("Device")]
    p.append(stat(g, "Status", [influx(f'''SELECT last("online") FROM "device_status" WHERE {DEVICE} AND $timeFilter''', fmt="table")],
                  defaults={"mappings": [{"type": "value", "options": {
                      "1": {"text": "online", "color": "green", "index": 0},
                      "0": {"text": "offline", "color": "red", "index": 1}}}], "noValue": "unknown"}))
    p.append(stat(g, "Fault events", [influx(f'''SELECT count("code") FROM "device_events" WHERE {DEVICE} AND "type" = 'fault' AND $timeFilter''', fmt="table")],
                  defaults={"noValue": "0", "thresholds": {"mode": "absolute", "steps": [
                      {"color": "green", "value": None}, {"color": "red", "value": 1}]}}))
    p.append(stat(g, "ERROR/FATAL lines", [influx(f'''SELECT count("msg") FROM "device_logs" WHERE {DEVICE} AND "level" =~ /^(ERROR|FATAL)$/ AND $timeFilter''', fmt="table")],
                  defaults={"noValue": "0", "thresholds": {"mode": "absolute", "steps": [
                      {"color": "green", "value": None}, {"color": "orange", "value": 1}]}}))
    p.append(table(g, "Identity (latest telemetry)", [influx(
        f'''SELECT last("seq") AS "seq", "model", "firmware", "site" FROM "telemetry" WHERE {DEVICE} AND $timeFilter''', fmt="table")],
        w=12, h=4, description="Cohort tags of the newest telemetry point and its sequence number."))
    return p


def _device_metrics(g: Grid) -> list[dict]:
    p = [g.row("Metrics")]
    p.append(timeseries(g, "Telemetry", [influx(
        f'''SELECT mean(*) FROM "telemetry" WHERE {DEVICE} AND $timeFilter GROUP BY time($__interval) fill(none)''')],
        w=24, h=10, description="Every metric the device reports (click a legend entry to isolate it).",
        transformations=[{"id": "filterFieldsByName", "options": {"exclude": {"pattern": ".*mean_seq.*"}}},
                         {"id": "renameByRegex", "options": {"regex": ".*mean_(.*)", "renamePattern": "$1"}}],
        overrides=[HIDE_EMPTY]))
    p[-1]["options"] = {"legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                                   "calcs": ["lastNotNull", "min", "max"]}, "tooltip": {"mode": "multi", "sort": "none"}}
    return p


def _device_logs(g: Grid) -> list[dict]:
    p = [g.row("Logs and events")]
    p.append(timeseries(g, "Log lines by level", [influx(
        f'''SELECT count("msg") FROM "device_logs" WHERE {DEVICE} AND "level" =~ /^$level$/ AND $timeFilter '''
        '''GROUP BY time($__interval), "level" fill(0)''', alias="$tag_level")], bars=True, stacked=True,
        overrides=series_colors(LEVEL_COLORS)))
    p.append(timeseries(g, "Anomaly scores", [
        influx(f'''SELECT max("score") FROM "anomalies" WHERE "subject" =~ /^$device$/ AND $timeFilter '''
               '''GROUP BY time($__interval), "detector" fill(none)''', alias="$tag_detector"),
        influx(f'''SELECT max("threshold") FROM "anomalies" WHERE "subject" =~ /^$device$/ AND $timeFilter '''
               '''GROUP BY time($__interval), "detector" fill(none)''', ref="B", alias="threshold $tag_detector")],
        description="Scores of the detections about this device (higher is more anomalous) and each detector's threshold.",
        overrides=[{"matcher": {"id": "byRegexp", "options": "threshold.*"}, "properties": [
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]}]))
    p[-1]["fieldConfig"]["defaults"]["custom"]["showPoints"] = "always"
    p.append(table(g, "Logs", [influx(
        f'''SELECT "level", "component", "code", "msg" FROM "device_logs" WHERE {DEVICE} AND "level" =~ /^$level$/ '''
        '''AND $timeFilter ORDER BY time DESC LIMIT 1000''', fmt="table")], h=12,
        description="Newest first; ERROR and FATAL lines are highlighted. Filter levels with the `level` variable.",
        overrides=[colored_column("level", LEVEL_COLORS)]))
    p.append(table(g, "Events", [influx(
        f'''SELECT "type", "severity", "code", "detail" FROM "device_events" WHERE {DEVICE} AND $timeFilter ORDER BY time DESC LIMIT 500''',
        fmt="table")], w=12, h=10, overrides=[colored_column("type", EVENT_COLORS)]))
    p.append(table(g, "Alerts about this device", [influx(
        '''SELECT "state", "severity", "alert", "text", "ticket" FROM "alert_events" WHERE "subject" =~ /^$device$/ '''
        '''AND $timeFilter ORDER BY time DESC LIMIT 200''', fmt="table")], w=12, h=10,
        overrides=[colored_column("state", {"firing": "red", "resolved": "green"})]))
    p.append(table(g, "Anomalies", [influx(
        '''SELECT "detector", "score", "observed", "expected", "threshold", "code", "explanation" FROM "anomalies" '''
        '''WHERE "subject" =~ /^$device$/ AND $timeFilter ORDER BY time DESC LIMIT 200''', fmt="table")], h=8,
        description="Each detection: observed against expected, the score and the detector's explanation."))
    return p


def device() -> dict:
    g = Grid()
    p = _device_header(g) + _device_metrics(g) + _device_logs(g)
    variables = [
        {"name": "device", "label": "Device", "type": "query", "datasource": INFLUX,
         "query": '''SHOW TAG VALUES FROM "telemetry" WITH KEY = "device"''', "definition": '''SHOW TAG VALUES FROM "telemetry" WITH KEY = "device"''',
         "refresh": 1, "sort": 1, "multi": False, "includeAll": False, "current": {}, "options": [], "regex": "", "hide": 0},
        {"name": "level", "label": "Log level", "type": "custom", "query": "DEBUG,INFO,WARN,ERROR,FATAL",
         "multi": True, "includeAll": True, "current": {"text": ["All"], "value": ["$__all"]}, "options": [], "hide": 0},
    ]
    annotations = [
        annotation("Alert firing", '''SELECT "text", "state", "severity", "alert" FROM "alert_events" WHERE "subject" =~ /^$device$/ AND "state" = 'firing' AND $timeFilter''', "red"),
        annotation("Alert resolved", '''SELECT "text", "state", "severity", "alert" FROM "alert_events" WHERE "subject" =~ /^$device$/ AND "state" = 'resolved' AND $timeFilter''', "green"),
        annotation("Fault events", f'''SELECT "code" AS "text", "type", "severity" FROM "device_events" WHERE {DEVICE} AND "type" = 'fault' AND $timeFilter''',
                   "orange", enable=False, tags="type,severity"),
    ]
    return dashboard(DEVICE_UID, "Faultline / Device", "One device: metrics, logs, fault events, anomaly scores and its alerts.",
                     p, variables=variables, annotations=annotations)


def _tickets_open(g: Grid) -> list[dict]:
    p = [g.row("Tickets")]
    p.append(table(g, "Open tickets", [infinity("/api/v1/tickets?state=open&limit=200", "items", [
        ("id", "Ticket", "number"), ("severity", "Severity", "string"), ("state", "State", "string"),
        ("title", "Title", "string"), ("subject", "Subject", "string"), ("code", "Code", "string"),
        ("model", "Model", "string"), ("firmware", "Firmware", "string"), ("site", "Site", "string"),
        ("assignee", "Assignee", "string"), ("team", "Team", "string"), ("opened_at", "Opened", "timestamp")])],
        h=10, description="Newest 200 open tickets, from the Faultline API (`GET /api/v1/tickets?state=open`). "
                          "Acknowledge, assign and resolve them through the API (`/docs`).",
        overrides=[colored_column("Severity", SEVERITY_COLORS),
                   link_column("Subject", DEVICE_LINK, "Open device")]))
    return p


def _tickets_kpis(g: Grid) -> list[dict]:
    p = [g.row("KPIs")]
    kpi_columns = [("mtta_s", "MTTA", "number"), ("mttr_s", "MTTR", "number"),
                   ("tickets", "Tickets", "number"), ("recurrence_rate", "Recurrence", "number")]
    for by in ("model", "firmware", "site"):
        p.append(table(g, f"KPIs by {by}", [infinity(f"/api/v1/kpis?by={by}&from=${{__from}}&to=${{__to}}", "groups",
                                                      [("key", by.capitalize(), "string")] + kpi_columns)],
                       w=8, h=9, description=f"Mean time to acknowledge and to resolve, and the share of tickets reopened, by {by}.",
                       overrides=[{"matcher": {"id": "byRegexp", "options": "MTT.*"}, "properties": [{"id": "unit", "value": "s"}]},
                                  {"matcher": {"id": "byName", "options": "Recurrence"}, "properties": [{"id": "unit", "value": "percentunit"}]}]))
    return p


AFTER_SALES_COLUMNS = [("tickets", "Tickets", "number"), ("first_response_s", "First response", "number"),
                       ("handling_s", "Handling", "number"), ("time_to_detect_s", "Time to detect", "number"),
                       ("localisation_accuracy", "Localisation accuracy", "number"),
                       ("detector_precision", "Detector precision", "number"),
                       ("recurrence_any_rate", "Recurrence (key or cause)", "number"),
                       ("reopen_rate", "Reopen rate", "number"), ("satisfaction", "Satisfaction", "number")]


def _tickets_after_sales(g: Grid) -> list[dict]:
    p = [g.row("After-sales KPIs")]
    units = [{"matcher": {"id": "byRegexp", "options": "First response|Handling|Time to detect"},
              "properties": [{"id": "unit", "value": "s"}]},
             {"matcher": {"id": "byRegexp", "options": "Localisation.*|Detector.*|Recurrence.*|Reopen.*"},
              "properties": [{"id": "unit", "value": "percentunit"}]}]
    for by, title in (("week", "week (Monday, UTC)"), ("team", "team"), ("source", "source")):
        p.append(table(g, f"After-sales KPIs by {title}", [infinity(
            f"/api/v1/kpis?by={by}&from=${{__from}}&to=${{__to}}", "groups",
            [("key", by.capitalize(), "string")] + AFTER_SALES_COLUMNS)], w=24, h=7,
            description="First response, handling time and time to detect (means), the share of judged tickets "
                        "whose attribution the technician confirmed, detector precision (1 − no-fault-found share), "
                        f"recurrence, reopen rate and the customers' mean rating, by {title}. Definitions: "
                        "README, *KPIs*.", overrides=units))
    return p


def _tickets_alerts(g: Grid) -> list[dict]:
    p = [g.row("Alert activity")]
    p.append(timeseries(g, "Alert transitions by state", [influx(
        '''SELECT count("text") FROM "alert_events" WHERE $timeFilter GROUP BY time($__interval), "state" fill(0)''',
        alias="$tag_state")], w=12, bars=True, overrides=series_colors({"firing": "red", "resolved": "green"})))
    p.append(table(g, "Alert transitions", [influx(
        '''SELECT "state", "severity", "alert", "subject", "text", "ticket" FROM "alert_events" WHERE $timeFilter ORDER BY time DESC LIMIT 500''',
        fmt="table")], w=12, h=8, overrides=[colored_column("state", {"firing": "red", "resolved": "green"})]))
    return p


def tickets() -> dict:
    g = Grid()
    p = _tickets_open(g) + _tickets_kpis(g) + _tickets_after_sales(g) + _tickets_alerts(g)
    return dashboard("faultline-tickets", "Faultline / Tickets and KPIs",
                     "Open tickets and MTTA/MTTR/recurrence from the Faultline API, with alert transitions.", p,
                     annotations=[annotation("Alert transitions", '''SELECT "text", "state", "severity", "subject" FROM "alert_events" WHERE $timeFilter''', "red")])


DASHBOARDS = {"fleet-overview.json": fleet_overview, "device.json": device, "tickets-kpis.json": tickets}


def render() -> dict[str, str]:
    """File name → JSON text, exactly as committed."""
    return {name: json.dumps(build(), indent=2, sort_keys=False) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, text in render().items():
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("stale: " + ", ".join(stale) + " (run python grafana/build_dashboards.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
