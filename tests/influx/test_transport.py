"""Status handling at the HTTP seam, against a tiny local server.

The real InfluxDB never answers 429, 503 or a 2.x ``/ping`` on demand, so
these answers come from a stdlib HTTP server scripted by each test. What
InfluxDB itself does is proven in test_client.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from influx.client import InfluxClient
from influx.errors import InfluxError
from support.http_server import quiet_http_server


@dataclass
class Scripted:
    """Answers the next request with the next (status, headers, body);
    while ``hold`` is clear, requests wait unanswered."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    seen: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""
    hold: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def fake() -> Iterator[Scripted]:
    script = Scripted()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            script.hold.wait(30)
            status, headers, payload = script.answers.pop(0)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args) -> None:
            pass

    server = quiet_http_server(Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{server.server_port}"
    script.hold.set()
    yield script
    script.hold.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_429_with_retry_after_is_retryable(fake):
    fake.answers.append((429, {"Retry-After": "7"}, b'{"error":"too many requests"}'))
    with pytest.raises(InfluxError) as info:
        InfluxClient(fake.url, "db").write("m v=1 1")
    err = info.value
    assert (err.status, err.retryable, err.retry_after, err.partial) == (429, True, 7.0, False)
    assert "too many requests" in str(err)


def test_503_is_retryable_with_its_hint(fake):
    fake.answers.append((503, {"Retry-After": "7"}, b"service unavailable"))
    fake.answers.append((503, {}, b""))
    client = InfluxClient(fake.url, "db")
    for expected_after in (7.0, None):
        with pytest.raises(InfluxError) as info:
            client.write("m v=1 1")
        assert (info.value.status, info.value.retryable, info.value.retry_after) == (503, True, expected_after)


@pytest.mark.parametrize("status,retryable", [(500, True), (502, True), (504, True), (401, False),
                                              (403, False), (413, False), (422, False)])
def test_status_classification(fake, status, retryable):
    fake.answers.append((status, {}, b'{"error":"nope"}'))
    with pytest.raises(InfluxError) as info:
        InfluxClient(fake.url, "db").write("m v=1 1")
    assert (info.value.status, info.value.retryable) == (status, retryable)


def test_write_request_shape_and_basic_auth(fake):
    fake.answers.append((204, {}, b""))
    InfluxClient(fake.url, "my db", user="svc", password="tok=en").write("m v=1 1", precision="ns", gzip=True)
    method, path, headers, body = fake.seen[0]
    assert (method, path) == ("POST", "/write?db=my+db&precision=ns")
    assert headers["content-encoding"] == "gzip"
    assert headers["authorization"] == "Basic c3ZjOnRvaz1lbg=="  # base64("svc:tok=en")
    assert "u=" not in path and "p=" not in path
    import gzip

    assert gzip.decompress(body) == b"m v=1 1"


def test_query_sends_bound_parameters_as_json(fake):
    fake.answers.append((200, {}, json.dumps({"results": [{"statement_id": 0}]}).encode()))
    assert InfluxClient(fake.url, "db").query("SELECT * FROM m WHERE d = $d", {"d": "x'y"}) == []
    from urllib.parse import parse_qs

    form = parse_qs(fake.seen[0][3].decode())
    assert form["q"] == ["SELECT * FROM m WHERE d = $d"]
    assert json.loads(form["params"][0]) == {"d": "x'y"}
    assert form["epoch"] == ["ms"] and form["db"] == ["db"]


def test_password_echoed_by_a_server_is_redacted(fake):
    fake.answers.append((401, {}, b'{"error":"bad credentials svc:hunter2-secret"}'))
    with pytest.raises(InfluxError) as info:
        InfluxClient(fake.url, "db", user="svc", password="hunter2-secret").write("m v=1 1")
    assert "hunter2-secret" not in str(info.value) and "hunter2-secret" not in repr(info.value)
    assert "***" in str(info.value) and info.value.status == 401


def test_ensure_database_on_2x_explains_the_missing_bucket(fake):
    fake.answers.append((204, {"X-Influxdb-Version": "v2.7.10"}, b""))
    fake.answers.append((200, {}, json.dumps({"results": [{"statement_id": 0, "series": [
        {"name": "databases", "columns": ["name"], "values": [["_monitoring"], ["other"]]}]}]}).encode()))
    with pytest.raises(InfluxError) as info:
        InfluxClient(fake.url, "faultline", password="token").ensure_database()
    message = str(info.value)
    assert info.value.retryable is False
    assert "bucket named 'faultline'" in message and "dbrp" in message
    assert all(method != "POST" or b"CREATE" not in body for method, _, _, body in fake.seen)


def test_ensure_database_on_2x_accepts_an_existing_bucket(fake):
    fake.answers.append((204, {"X-Influxdb-Version": "v2.7.10"}, b""))
    fake.answers.append((200, {}, json.dumps({"results": [{"statement_id": 0, "series": [
        {"name": "databases", "columns": ["name"], "values": [["faultline"]]}]}]}).encode()))
    InfluxClient(fake.url, "faultline", password="token").ensure_database()
    assert len(fake.seen) == 2 and not fake.answers


def test_a_server_that_does_not_answer_in_time_is_retryable(fake):
    fake.hold.clear()
    fake.answers.append((204, {}, b""))
    with pytest.raises(InfluxError) as info:
        InfluxClient(fake.url, "db", password="hunter2-secret", timeout=0.3).write("m v=1 1")
    err = info.value
    assert (err.status, err.retryable, err.partial) == (None, True, False)
    assert "Timeout" in str(err) and "hunter2-secret" not in str(err)
