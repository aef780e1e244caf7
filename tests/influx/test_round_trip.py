"""Corpus points encoded, written to the real InfluxDB and read back with InfluxQL.

Every point of decode_valid.json (``output.result``) is encoded and written.
The only points not stored are those the encoder refuses because InfluxDB
cannot hold them, each for a reason asserted below:

- an integer outside int64 (the corpus' uint values above 2**63-1): InfluxDB
  1.x has no unsigned type and Faultline never writes the ``u`` suffix;
- a name containing a newline: the server ends the line there (an escaped
  ``\\n`` would be stored as two characters);
- a name ending with a backslash: it escapes the separator that follows;
- a tag or field key named ``time``: InfluxDB drops the point
  ("invalid tag key: input tag "time" ... is invalid").
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from influx.client import InfluxClient
from influx.line_protocol import encode_line
from influx.query import quote_ident

CORPUS = Path("/work/shared/data/line-protocol/decode_valid.json")
INT64_MAX = (1 << 63) - 1
FIELD_TYPES = {"float": "float", "int": "integer", "uint": "integer", "string": "string", "bool": "boolean"}
SERVER_CANNOT_STORE = ("outside the signed 64-bit range", "contains a newline", "ends with a backslash",
                       "reserved by InfluxDB")


def _cases() -> list[list[dict]]:
    """The points of each corpus case."""
    return [case["output"]["result"] for case in json.loads(CORPUS.read_text())["decode_valid"]]


def _points() -> list[dict]:
    return [p for points in _cases() for p in points]


def _fields(point: dict) -> dict:
    fields = {}
    for f in point["fields"]:
        ((kind, value),) = f["value"].items()
        fields[f["key"]] = (float(value) if kind == "float" else value, FIELD_TYPES[kind])
    return fields


def _encode(point: dict) -> str | None:
    tags = {t["key"]: t["value"] for t in point["tags"]}
    fields = {k: v for k, (v, _) in _fields(point).items()}
    try:
        return encode_line(point["name"], tags, fields, point["time"])
    except ValueError as exc:
        assert any(reason in str(exc) for reason in SERVER_CANNOT_STORE), exc
        return None


def _databases(stack, cases: list[list[dict]]) -> list[tuple[str, list[dict]]]:
    """Spread cases over databases so no measurement holds points of two cases
    (the corpus reuses names with other field types: a conflict by design)."""
    groups: list[tuple[set[str], list[dict]]] = []
    for points in cases:
        names = {p["name"] for p in points}
        for used, members in groups:
            if not names & used:
                used |= names
                members.extend(points)
                break
        else:
            groups.append((names, list(points)))
    return [(stack.new_database("rt"), members) for _, members in groups]


def _expected(points: list[dict]) -> dict:
    """(measurement, tags, time) -> fields, merged like InfluxDB merges duplicate points."""
    expected: dict = defaultdict(dict)
    for point in points:
        tags = frozenset((t["key"], t["value"]) for t in point["tags"])
        expected[(point["name"], tags, point["time"])].update(_fields(point))
    return dict(expected)


def _read_back(client: InfluxClient, names: set[str]) -> dict:
    stored: dict = {}
    for name in names:
        types = {r["fieldKey"]: r["fieldType"] for r in client.rows(f"SHOW FIELD KEYS FROM {quote_ident(name)}")}
        for series in client.query(f"SELECT * FROM {quote_ident(name)} GROUP BY *", epoch="ns"):
            tags = frozenset((k, v) for k, v in series.tags.items() if v != "")
            for row in series.rows():
                fields = {k: (row[k], types[k]) for k in types if row.get(k) is not None}
                stored[(series.name, tags, row["time"])] = fields
    return stored


def _same_fields(expected: dict, stored: dict) -> bool:
    if expected.keys() != stored.keys():
        return False
    return all(expected[k][1] == stored[k][1] and expected[k][0] == stored[k][0] for k in expected)


@pytest.mark.timeout(300)
def test_corpus_points_round_trip_through_influxdb(stack):
    cases = _cases()
    lines = {id(p): _encode(p) for points in cases for p in points}
    storable = [[p for p in points if lines[id(p)] is not None] for points in cases]
    total, stored = len(lines), sum(map(len, storable))
    assert total == 400 and stored >= 370, (total, stored)

    checked = 0
    for db, members in _databases(stack, [c for c in storable if c]):
        client = InfluxClient(stack.influx_url, db)
        client.write("\n".join(lines[id(p)] for p in members), precision="ns")
        expected = _expected(members)
        stored = _read_back(client, {p["name"] for p in members})
        assert stored.keys() == expected.keys(), db
        for key, fields in expected.items():
            assert _same_fields(fields, stored[key]), (key, fields, stored[key])
            checked += 1
    assert checked > 300


def test_refused_corpus_points_are_exactly_the_unstorable_ones():
    refused = [p for p in _points() if _encode(p) is None]
    for point in refused:
        names = [point["name"]] + [t["key"] for t in point["tags"]] + [t["value"] for t in point["tags"]]
        names += [f["key"] for f in point["fields"]]
        too_big = [f for f in point["fields"] if "uint" in f["value"] and f["value"]["uint"] > INT64_MAX]
        keys = [t["key"] for t in point["tags"]] + [f["key"] for f in point["fields"]]
        assert too_big or "time" in keys or any("\n" in n or n.endswith("\\") for n in names), point
