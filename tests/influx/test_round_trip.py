"""Points encoded, written to the real InfluxDB and read back with InfluxQL.

1. Every point of the corpus' decode_valid.json (``output.result``) is
   encoded and written. The only points not stored are those the encoder
   refuses because InfluxDB cannot hold them, each for a reason asserted:

   - an integer outside int64 (the corpus' uint values above 2**63-1):
     InfluxDB 1.x has no unsigned type and Faultline never writes ``u``;
   - a tag or field key named ``time``: InfluxDB drops the point
     ("invalid tag key: input tag "time" ... is invalid");
   - (none in this corpus) a name with a newline, or ending with a backslash.

2. Generated points with hostile names and values.
3. The name rules, name by name: the encoder refuses a name exactly when the
   server would not give it back unchanged.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from influx.client import InfluxClient
from influx.errors import InfluxError
from influx.line_protocol import _KEY_ESCAPES, _MEASUREMENT_ESCAPES, encode_line
from influx.query import quote_ident

CORPUS = Path(__file__).resolve().parent / "vectors" / "decode_valid.json"  # vendored, see vectors/README.md
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


def _databases(fresh_client, cases: list[list[dict]]) -> list[tuple[InfluxClient, list[dict]]]:
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
    return [(fresh_client("rt"), members) for _, members in groups]


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
    for k, (value, kind) in expected.items():
        got, got_kind = stored[k]
        if got_kind != kind:
            return False
        # JSON carries a float field like 5e16 as 50000000000000000: compare as a float.
        if (float(got) if kind == "float" else got) != value:
            return False
    return True


@pytest.mark.timeout(300)
def test_corpus_points_round_trip_through_influxdb(fresh_client):
    cases = _cases()
    lines = {id(p): _encode(p) for points in cases for p in points}
    storable = [[p for p in points if lines[id(p)] is not None] for points in cases]
    total, stored = len(lines), sum(map(len, storable))
    assert total == 400 and stored >= 370, (total, stored)

    checked = 0
    for client, members in _databases(fresh_client, [c for c in storable if c]):
        client.write("\n".join(lines[id(p)] for p in members), precision="ns")
        expected = _expected(members)
        stored = _read_back(client, {p["name"] for p in members})
        assert stored.keys() == expected.keys(), client.db
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


# -- generated points, hostile names included, through the real server ------------


_CHARS = st.sampled_from(list("ab09_-.:,= \"'\\\té✓"))
_name = st.text(_CHARS, min_size=1, max_size=10)
_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=20),
)
_serial = itertools.count()
_KINDS = {bool: "boolean", int: "integer", float: "float", str: "string"}


@pytest.fixture(scope="module")
def generated_db(stack) -> InfluxClient:
    client = InfluxClient(stack.influx_url, f"gen_{uuid.uuid4().hex[:10]}")
    client.ensure_database()
    return client


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_name, st.dictionaries(_name, _name, max_size=4), st.dictionaries(_name, _values, min_size=1, max_size=4),
       st.integers(min_value=-(1 << 62), max_value=1 << 62))
def test_generated_points_round_trip(generated_db, name, tags, fields, ts):
    """Every line the encoder writes is stored exactly; what it refuses, it refuses for a documented reason."""
    measurement = f"m_{next(_serial)}_{name}"  # a fresh measurement per example: no type conflicts
    tags = {k: v for k, v in tags.items() if k not in fields}
    try:
        line = encode_line(measurement, tags, fields, ts)
    except ValueError as exc:
        assert any(r in str(exc) for r in ("backslash", "reserved", "tab", "carriage return", "'#'")), exc
        assume(False)
    generated_db.write(line, precision="ns")
    stored = _read_back(generated_db, {measurement})
    key = (measurement, frozenset((k, v) for k, v in tags.items() if v), ts)
    assert list(stored) == [key]
    assert _same_fields({k: (v, _KINDS[type(v)]) for k, v in fields.items()}, stored[key])


# -- the name rules, name by name, against the server -------------------------------

_ALPHABET = ["a", "\\", ",", "=", " ", '"']
_POSITIONS = ("measurement", "tag key", "tag value", "field key")


def _stored_exactly(client: InfluxClient, where: str, name: str, serial: int) -> bool:
    """Write one point with ``name`` at ``where``, escaped but not validated, and read it back."""
    m, tk, tv, fk = f"n{serial}", "t", "v", "f"
    if where == "measurement":
        m += name
    elif where == "tag key":
        tk = name
    elif where == "tag value":
        tv = name
    else:
        fk = name
    line = f"{m.translate(_MEASUREMENT_ESCAPES)},{tk.translate(_KEY_ESCAPES)}={tv.translate(_KEY_ESCAPES)} " \
           f"{fk.translate(_KEY_ESCAPES)}=1 1"
    try:
        client.write(line, precision="ns")
    except InfluxError as exc:
        assert exc.status == 400, exc
        return False
    series = client.query(f"SELECT * FROM {quote_ident(m)} GROUP BY *", epoch="ns")
    return [(s.name, dict(s.tags), s.columns, s.values) for s in series] == [(m, {tk: tv}, ("time", fk), ((1, 1),))]


def _encoder_accepts(where: str, name: str) -> bool:
    m, tags, fields = "n", {"t": "v"}, {"f": 1}
    if where == "measurement":
        m += name
    elif where == "tag key":
        tags = {name: "v"}
    elif where == "tag value":
        tags = {"t": name}
    else:
        fields = {name: 1}
    try:
        encode_line(m, tags, fields, 1)
    except ValueError:
        return False
    return True


@pytest.mark.timeout(300)
def test_encoder_refuses_exactly_the_names_the_server_cannot_take_back(fresh_client):
    """Every name of up to three characters from a, backslash, comma, equals, space and '"',
    in each position: the encoder accepts it if and only if InfluxDB stores it exactly."""
    client = fresh_client("names")
    names = ["".join(p) for n in (1, 2, 3) for p in itertools.product(_ALPHABET, repeat=n)]
    serial = itertools.count()
    mismatches = [(where, name) for name in names for where in _POSITIONS
                  if _encoder_accepts(where, name) != _stored_exactly(client, where, name, next(serial))]
    assert mismatches == []
