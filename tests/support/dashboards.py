"""Faultline's dashboards as data: every InfluxQL query they hold, and the schema it may use.

``grafana/schema.json`` is the single description of what Faultline writes to
InfluxDB; ``check_influxql`` holds a query to it. ``tests/grafana/conftest.py``
parametrizes ``dashboard_query`` over every InfluxQL query (panels, variables,
annotations).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
INFLUX_UID = "faultline-influx"


@dataclass(frozen=True)
class DashboardQuery:
    dashboard: str  # file name
    kind: str  # panel | variable | annotation
    where: str  # human-readable place, for test ids and messages
    text: str
    result_format: str = "time_series"

    @property
    def id(self) -> str:
        return f"{self.dashboard.removesuffix('.json')}:{self.where}"


def load_schema() -> dict[str, dict]:
    return json.loads((GRAFANA / "schema.json").read_text())["measurements"]


def load_dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))}


def all_panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows
    return out


def influxql_queries() -> list[DashboardQuery]:
    found = []
    for name, dash in load_dashboards().items():
        for panel in all_panels(dash):
            for t in panel.get("targets", []):
                if t.get("datasource", panel.get("datasource", {})).get("uid") == INFLUX_UID:
                    where = f"panel {panel['id']} {panel['title']!r} {t['refId']}"
                    found.append(DashboardQuery(name, "panel", where, t["query"], t.get("resultFormat", "time_series")))
        for var in dash.get("templating", {}).get("list", []):
            if var.get("type") == "query" and var.get("datasource", {}).get("uid") == INFLUX_UID:
                found.append(DashboardQuery(name, "variable", f"variable {var['name']}", var["query"], "table"))
        for ann in dash.get("annotations", {}).get("list", []):
            if ann.get("datasource", {}).get("uid") == INFLUX_UID:
                found.append(DashboardQuery(name, "annotation", f"annotation {ann['name']!r}", ann["query"], "table"))
    return found


# --- InfluxQL checks ------------------------------------------------------------

KEYWORDS = {
    "select", "from", "where", "and", "or", "group", "by", "time", "fill", "none", "null", "order", "desc",
    "asc", "limit", "as", "show", "tag", "values", "with", "key", "field", "keys",
    "mean", "max", "min", "sum", "count", "last", "first", "median", "spread", "stddev", "distinct",
}
MACROS = {"$timeFilter", "$__interval", "$device", "$level"}
STRING_LIT = re.compile(r"'(?:[^'\\]|\\.)*'")
REGEX_LIT = re.compile(r"(=~|!~)\s*/(?:[^/\\]|\\.)*/")
IDENT = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _strip_literals(q: str) -> str:
    return REGEX_LIT.sub(r"\1 REGEX", STRING_LIT.sub("STRING", q))


def check_influxql(q: str, schema: dict[str, dict]) -> list[str]:
    """Problems with one query: unknown measurement, field or tag, or an unquoted word."""
    problems = []
    bare = _strip_literals(q)
    measurements = re.findall(r'\bFROM\s+"([^"]+)"', bare, flags=re.I)
    if not measurements:
        return [f"no FROM \"measurement\" in {q!r}"]
    for m in measurements:
        if m not in schema:
            problems.append(f"unknown measurement {m!r}")
    known = [schema[m] for m in measurements if m in schema]
    tags = {t for s in known for t in s["tags"]}
    fields = {f for s in known for f in list(s["fields"]) + s.get("metrics", [])}
    string_fields = {f for s in known for f, kind in s["fields"].items() if kind == "string"}
    aliases = set(re.findall(r'\bAS\s+"([^"]+)"', bare, flags=re.I))
    for name in IDENT.findall(bare):
        if name not in measurements and name not in tags | fields | aliases:
            problems.append(f"{name!r} is neither a tag nor a field of {measurements}")
    for fn, arg in re.findall(r'\b(\w+)\(\s*"([^"]+)"\s*\)', bare):
        if arg not in fields | aliases:
            problems.append(f"{fn}({arg!r}): {arg!r} is not a field of {measurements}")
    buckets = re.sub(r"\btime\([^)]*\)", "BUCKET", bare)
    for clause in re.findall(r"\bGROUP BY\s+([^)]*?)(?=\)|\bfill\(|\bORDER\b|\bLIMIT\b|$)", buckets, flags=re.I):
        for name in IDENT.findall(clause):
            if name not in tags:
                problems.append(f"GROUP BY {name!r}: not a tag of {measurements}")
    for name in re.findall(r'"([^"]+)"\s*(?:=~|!~)\s*REGEX', bare):
        if name not in tags | string_fields | aliases:
            problems.append(f"regex match on {name!r}: only tags and string fields match regexes")
    for name in re.findall(r'"([^"]+)"\s*(?:!=|=)\s*STRING', bare):
        if name not in tags | string_fields | aliases:
            problems.append(f"{name!r} compared with a string: not a tag or string field")
    words = IDENT.sub(" ", bare)
    words = re.sub(r"\$\w+", lambda m: " " if m.group(0) in MACROS else m.group(0), words)
    for word in re.findall(r"[A-Za-z_$][\w$]*", words):
        if word.lower() not in KEYWORDS and word not in ("STRING", "REGEX"):
            problems.append(f"unquoted or unknown word {word!r} (quote identifiers, use known macros)")
    return problems
