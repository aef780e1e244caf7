"""What a hostile or careless client cannot do to the API: big bodies, odd methods, leaked URLs, open operator pages.

Bodies are sent to a real uvicorn server over a socket (the limit must hold
before the body is read, so an in-process client would not prove it).
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import threading

import pytest
import uvicorn
from fastapi.testclient import TestClient

from faultline.wiring import api_app
from faultline.settings import SettingsError, load_settings

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def served(stack, tmp_path_factory):
    """A real uvicorn serving the app with a 64 KiB body limit and keys on /docs and /metrics."""
    from database import make_engine, migrate

    data = tmp_path_factory.mktemp("hardening")
    settings = load_settings({"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_INFLUX_URL": stack.influx_url,
                              "FAULTLINE_INFLUX_DB": stack.new_database(), "FAULTLINE_DATA_DIR": str(data),
                              "FAULTLINE_API_MAX_BODY_BYTES": str(LIMIT), "FAULTLINE_API_DOCS_KEY": "docs-k",
                              "FAULTLINE_API_METRICS_KEY": "metrics-k"})
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    app = api_app(settings, engine=engine)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.02)
    yield sock.getsockname()[1], app
    server.should_exit = True
    thread.join()
    engine.dispose()


def _request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def test_a_body_over_the_limit_is_413_before_the_key_is_checked(served):
    port, _ = served
    status, body, _ = _request(port, "POST", "/api/v1/silences", body=b"x" * (LIMIT + 1),
                               headers={"Content-Type": "application/json"})
    assert status == 413 and b"FAULTLINE_API_MAX_BODY_BYTES" in body
    small, _, _ = _request(port, "POST", "/api/v1/silences", body=b"{}", headers={"Content-Type": "application/json"})
    assert small == 401  # under the limit the key is what is missing


def _post_chunked_until_answered(port, path, chunks):
    """Send a chunked body the way a careful client does: stop sending once the server has answered.

    The server answers 413 and closes while the body is still arriving, so a
    client that keeps writing meets a broken pipe; what counts is the answer.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        try:
            for chunk in chunks:
                if select.select([sock], [], [], 0.05)[0]:
                    break  # the answer is already here
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            else:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed after answering; read the answer below
        received = b""
        try:
            while part := sock.recv(65536):
                received += part
        except ConnectionResetError:
            pass
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_a_chunked_body_is_counted_as_it_arrives(served):
    port, _ = served
    chunks = (b"y" * 16384 for _ in range(8))  # 128 KiB without a Content-Length
    status, body = _post_chunked_until_answered(port, "/api/v1/silences", chunks)
    assert status == 413 and b"too large" in body, body


def test_docs_and_metrics_need_their_keys_when_set(served):
    port, _ = served
    for path in ("/docs", "/openapi.json", "/redoc", "/docs-assets/swagger-ui.css", "/metrics"):
        status, _, headers = _request(port, "GET", path)
        assert status == 401 and headers["www-authenticate"].startswith("Basic"), path
    assert _request(port, "GET", "/metrics", headers={"Authorization": "Bearer docs-k"})[0] == 401
    assert _request(port, "GET", "/metrics", headers={"Authorization": "Bearer metrics-k"})[0] == 200
    basic = base64.b64encode(b"ops:docs-k").decode()
    assert _request(port, "GET", "/docs", headers={"Authorization": f"Basic {basic}"})[0] == 200
    assert _request(port, "GET", "/openapi.json", headers={"Authorization": f"Basic {basic}"})[0] == 200
    assert _request(port, "GET", "/health")[0] == 200  # probes stay open


def test_odd_methods_share_one_metrics_label(client):
    for i in range(50):
        client.request(f"X{i}ODD", "/api/v1/tickets")
    text = client.get("/metrics").text
    assert "ODD" not in text
    other = [line for line in text.splitlines()
             if line.startswith("faultline_api_requests_total{") and 'method="OTHER"' in line]
    assert len(other) == 1 and other[0].endswith(" 50.0"), other


def test_a_mistyped_or_bad_secret_is_never_echoed(tmp_path):
    with pytest.raises(SettingsError) as unknown:
        load_settings({"FAULTLINE_INFLUX_PASSWROD": "s3cret-token", "FAULTLINE_DATA_DIR": str(tmp_path)})
    assert "FAULTLINE_INFLUX_PASSWROD" in str(unknown.value) and "s3cret-token" not in str(unknown.value)
    with pytest.raises(SettingsError) as bad_url:
        load_settings({"FAULTLINE_MQTT_URL": "mqtt://svc:s3cret-pw@", "FAULTLINE_DATA_DIR": str(tmp_path)})
    assert "FAULTLINE_MQTT_URL" in str(bad_url.value) and "s3cret-pw" not in str(bad_url.value)
    with pytest.raises(SettingsError) as bad_secret:
        load_settings({"FAULTLINE_API_MAX_BODY_BYTES": "10", "FAULTLINE_DATA_DIR": str(tmp_path)})
    assert "FAULTLINE_API_MAX_BODY_BYTES='10'" in str(bad_secret.value)  # plain values are still named


def test_the_docs_stay_public_without_a_key(client):
    assert client.get("/docs").status_code == 200 and client.get("/metrics").status_code == 200
