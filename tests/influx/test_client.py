"""InfluxClient against the real InfluxDB of the test session."""

from __future__ import annotations

import uuid

import pytest

from influx.client import InfluxClient, Series, ServerInfo
from influx.errors import InfluxError
from influx.line_protocol import encode_line
from influx.query import quote_ident, quote_string, time_range

HOSTILE = [
    "it's",
    "back\\slash",
    "backslash then quote \\' OR 1=1 --",
    "\\\\x",
    "' OR 1=1 --",
    "\" OR \"\"=\"",
    "'; DROP DATABASE x; --",
    "$device",
    "tab\there, comma=equals",
    "ünïcödé ✓",
]


def test_ping_reports_the_server_version(client):
    info = client.ping()
    assert isinstance(info, ServerInfo)
    assert info.major == 1
    assert info.version.startswith("1.")


def test_write_then_read_back_rows_and_series(client):
    lines = [
        encode_line("telemetry", {"device": "d1", "site": "s1"}, {"temp_c": 41.25, "seq": 1}, 1_700_000_000_000),
        encode_line("telemetry", {"device": "d2", "site": "s1"}, {"temp_c": -3.5, "seq": 2}, 1_700_000_001_000),
    ]
    client.write("\n".join(lines), precision="ms")

    rows = client.rows("SELECT temp_c, seq, device FROM telemetry ORDER BY time")
    assert rows == [
        {"time": 1_700_000_000_000, "temp_c": 41.25, "seq": 1, "device": "d1"},
        {"time": 1_700_000_001_000, "temp_c": -3.5, "seq": 2, "device": "d2"},
    ]
    series = client.query("SELECT last(temp_c) FROM telemetry GROUP BY device", epoch="s")
    assert series == [
        Series("telemetry", {"device": "d1"}, ("time", "last"), ((1_700_000_000, 41.25),)),
        Series("telemetry", {"device": "d2"}, ("time", "last"), ((1_700_000_001, -3.5),)),
    ]
    grouped = client.rows("SELECT last(temp_c) FROM telemetry GROUP BY device")
    assert [(r["device"], r["last"]) for r in grouped] == [("d1", 41.25), ("d2", -3.5)]


@pytest.mark.parametrize("precision,ts,expected_ms", [("s", 1_700_000_000, 1_700_000_000_000),
                                                      ("ms", 1_700_000_000_123, 1_700_000_000_123),
                                                      ("ns", 1_700_000_000_123_000_000, 1_700_000_000_123)])
def test_write_precisions(client, precision, ts, expected_ms):
    client.write(encode_line("m", {}, {"v": 1.0}, ts), precision=precision)
    assert client.rows("SELECT v FROM m") == [{"time": expected_ms, "v": 1.0}]


def test_unsupported_precision_is_refused_before_sending(client):
    with pytest.raises(ValueError, match="precision"):
        client.write("m v=1 1", precision="u")


def test_gzip_write(client):
    body = "\n".join(encode_line("m", {"k": str(i % 7)}, {"v": float(i)}, 1_000 + i) for i in range(2000))
    client.write(body.encode(), gzip=True)
    assert client.rows("SELECT count(v) FROM m") == [{"time": 0, "count": 2000}]


def test_bound_parameters_with_hostile_values_return_exact_rows(client):
    lines = [encode_line("m", {"device": value}, {"text": value, "n": i}, 1_000 + i) for i, value in enumerate(HOSTILE)]
    client.write("\n".join(lines))
    for i, value in enumerate(HOSTILE):
        by_tag = client.rows("SELECT n, text FROM m WHERE device = $device", {"device": value})
        assert by_tag == [{"time": 1_000 + i, "n": i, "text": value}], value
        by_field = client.rows("SELECT n, device FROM m WHERE text = $text", {"text": value})
        assert by_field == [{"time": 1_000 + i, "n": i, "device": value}], value
    everything = client.rows("SELECT count(n) FROM m")
    assert everything == [{"time": 0, "count": len(HOSTILE)}]


def test_bound_parameters_carry_control_characters_in_string_fields(client):
    values = ["line one\r\nline two", "nul \x00 inside", "tab\tand newline\n"]
    client.write("\n".join(encode_line("logs", {}, {"msg": v, "n": i}, 1_000 + i) for i, v in enumerate(values)))
    for i, value in enumerate(values):
        assert client.rows("SELECT n, msg FROM logs WHERE msg = $msg", {"msg": value}) == [
            {"time": 1_000 + i, "n": i, "msg": value}]


def test_quoted_literals_and_identifiers_with_hostile_values(client):
    lines = [encode_line(name, {"device": name}, {"n": i}, 1_000 + i) for i, name in enumerate(HOSTILE)]
    client.write("\n".join(lines))
    for i, name in enumerate(HOSTILE):
        q = f"SELECT n FROM {quote_ident(name)} WHERE device = {quote_string(name)} AND {time_range(0, 10_000)}"
        assert client.rows(q) == [{"time": 1_000 + i, "n": i}], q


def test_time_range_bounds(client):
    client.write("\n".join(encode_line("m", {}, {"v": float(t)}, t) for t in (999, 1_000, 1_999, 2_000)))
    assert [r["time"] for r in client.rows(f"SELECT v FROM m WHERE {time_range(1_000, 2_000)}")] == [1_000, 1_999]


def test_write_to_missing_database_is_not_retryable(stack):
    client = InfluxClient(stack.influx_url, "no_such_db_here")
    with pytest.raises(InfluxError) as info:
        client.write("m v=1 1")
    err = info.value
    assert (err.status, err.retryable, err.partial) == (404, False, False)
    assert "no_such_db_here" in str(err) and "not found" in str(err)


def test_field_type_conflict_names_the_field(client):
    client.write(encode_line("m", {}, {"temp_c": 1.5}, 1))
    body = "\n".join([encode_line("m", {}, {"temp_c": 2.5}, 2), encode_line("m", {}, {"temp_c": "hot"}, 3)])
    with pytest.raises(InfluxError) as info:
        client.write(body)
    err = info.value
    assert (err.status, err.retryable, err.partial) == (400, False, True)
    assert "field type conflict" in str(err) and '"temp_c"' in str(err)
    # InfluxDB stored the good point of the batch.
    assert [r["time"] for r in client.rows("SELECT temp_c FROM m")] == [1, 2]


def test_unparseable_body_is_not_retryable(client):
    with pytest.raises(InfluxError) as info:
        client.write("m,t=ab\\ v=1 1")
    assert (info.value.status, info.value.retryable, info.value.partial) == (400, False, False)
    assert "unable to parse" in str(info.value)


def test_query_errors_carry_the_server_text(client):
    with pytest.raises(InfluxError, match="error parsing query") as info:
        client.query("SELECT FROM WHERE")
    assert (info.value.status, info.value.retryable) == (400, False)
    client.write("m v=1 1")
    with pytest.raises(InfluxError, match="mixing aggregate and non-aggregate") as info:
        client.query("SELECT v, count(v) FROM m")
    assert (info.value.status, info.value.retryable) == (200, False)  # a statement error in a 200 response


def test_several_statements_return_all_series(client):
    client.write("a v=1 1\nb v=2 2")
    series = client.query("SELECT v FROM a; SELECT v FROM b")
    assert [(s.name, s.values) for s in series] == [("a", ((1, 1),)), ("b", ((2, 2),))]


def test_ensure_database_creates_it_once_and_again(stack):
    name = f"ensure_{uuid.uuid4().hex[:10]}"
    client = InfluxClient(stack.influx_url, name)
    client.ensure_database()
    client.ensure_database()
    assert name in {r["name"] for r in client.rows("SHOW DATABASES")}
    client.write("m v=1 1")
    assert client.rows("SELECT v FROM m") == [{"time": 1, "v": 1.0}]


def test_stopped_server_is_retryable_and_password_stays_secret(private_stack):
    client = InfluxClient(private_stack.influx_url, "private", user="svc", password="hunter2-secret", timeout=2.0)
    client.ensure_database()
    client.write("m v=1 1")
    private_stack.influxd.stop()
    for call in (lambda: client.write("m v=2 2"), lambda: client.query("SELECT * FROM m"), client.ping):
        with pytest.raises(InfluxError) as info:
            call()
        err = info.value
        assert err.retryable is True and err.status is None
        assert "hunter2-secret" not in str(err) and "hunter2-secret" not in repr(err)
    assert "hunter2-secret" not in repr(client)
