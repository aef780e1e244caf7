"""`faultline grafana annotate` against the real InfluxDB and a recording HTTP server in Grafana's place."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from faultline.cli import main
from alerts.grafana_annotations import GrafanaError, HttpAnnotationApi, push_annotations
from influx.client import InfluxClient
from influx.line_protocol import encode_line

TOKEN = "glsa_test-token-0123456789"


class FakeGrafana(ThreadingHTTPServer):
    """Grafana's annotation endpoints, in memory, recording every request."""

    def __init__(self, status: int = 200):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = status
        self.requests: list[dict] = []
        self.annotations: list[dict] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def posted(self) -> list[dict]:
        return [r["body"] for r in self.requests if r["method"] == "POST"]


class _Handler(BaseHTTPRequestHandler):
    server: FakeGrafana

    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status: int, doc) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body=None) -> dict:
        entry = {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        with self.server.lock:
            self.server.requests.append(entry)
        return entry

    def do_GET(self):
        self._record()
        if self.server.status != 200:
            return self._reply(self.server.status, {"message": "invalid API key"})
        query = parse_qs(urlsplit(self.path).query)
        lo, hi, tags = int(query["from"][0]), int(query["to"][0]), set(query.get("tags", []))
        limit = int(query.get("limit", ["100"])[0])
        with self.server.lock:
            found = [a for a in self.server.annotations if lo <= a["time"] <= hi and tags <= set(a["tags"])]
        self._reply(200, sorted(found, key=lambda a: -a["time"])[:limit])  # newest first, like Grafana

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._record(body)
        if self.server.status != 200:
            return self._reply(self.server.status, {"message": "invalid API key"})
        with self.server.lock:
            ann = dict(body, id=len(self.server.annotations) + 1)
            self.server.annotations.append(ann)
        self._reply(200, {"id": ann["id"], "message": "Annotation added"})


@pytest.fixture
def grafana_server():
    server = FakeGrafana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def alert_history(stack, influx_db):
    """Three transitions of two alerts in the last hour, written as the alert stage writes them."""
    now = int(time.time() * 1000)
    rows = [
        (now - 50 * 60_000, "device_fault_rate|device|PX-200-0007|E214", "firing", "major", "PX-200-0007", "Fault rate 6/h against 0.4/h", "T-12"),
        (now - 20 * 60_000, "device_fault_rate|device|PX-200-0007|E214", "resolved", "major", "PX-200-0007", "Quiet for 30 min", "T-12"),
        (now - 10 * 60_000, "cohort_fault_rate|cohort|model=PX-200,firmware=2.1.0|", "firing", "critical",
         "model=PX-200,firmware=2.1.0", "Cohort fault rate 5x the fleet (firmware 2.1.0)", "T-13"),
    ]
    client = InfluxClient(stack.influx_url, influx_db)
    client.write("\n".join(encode_line("alert_events", {"alert": a, "state": s, "severity": sev},
                                       {"text": text, "ticket": ticket, "subject": subj}, ts)
                           for ts, a, s, sev, subj, text, ticket in rows), precision="ms")
    yield client, rows, now
    client.close()


def _env(settings_env, grafana_url="", token=""):
    return dict(settings_env, FAULTLINE_GRAFANA_URL=grafana_url, FAULTLINE_GRAFANA_TOKEN=token)


def test_cli_pushes_each_transition_once(settings_env, alert_history, grafana_server):
    _, rows, _ = alert_history
    env = _env(settings_env, grafana_server.url, TOKEN)
    result = CliRunner().invoke(main, ["grafana", "annotate", "--since", "2h"], env=env)
    assert result.exit_code == 0, result.output
    assert "pushed 3 of 3" in result.output
    posted = grafana_server.posted()
    assert [p["time"] for p in posted] == [r[0] for r in rows]
    first = posted[0]
    assert first["tags"] == ["faultline", "alert:device_fault_rate|device|PX-200-0007|E214", "state:firing",
                             "severity:major", "subject:PX-200-0007"]
    assert first["text"] == "[firing] Fault rate 6/h against 0.4/h (ticket T-12)"
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in grafana_server.requests)

    again = CliRunner().invoke(main, ["grafana", "annotate", "--since", "2h"], env=env)
    assert again.exit_code == 0, again.output
    assert "pushed 0 of 3" in again.output and "3 already there" in again.output
    assert len(grafana_server.posted()) == 3


def test_range_limits_what_is_pushed(alert_history, grafana_server):
    client, rows, now = alert_history
    api = HttpAnnotationApi(grafana_server.url, TOKEN)
    summary = push_annotations(client, api, now - 30 * 60_000, now, dashboard_uid="faultline-device")
    assert (summary.found, summary.pushed, summary.present) == (2, 2, 0)
    assert [p["time"] for p in grafana_server.posted()] == [rows[1][0], rows[2][0]]
    assert all(p["dashboardUID"] == "faultline-device" for p in grafana_server.posted())


def test_dry_run_posts_nothing(settings_env, alert_history, grafana_server):
    env = _env(settings_env, grafana_server.url, TOKEN)
    result = CliRunner().invoke(main, ["grafana", "annotate", "--since", "2h", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "would push 3 of 3" in result.output
    assert grafana_server.posted() == []


@pytest.mark.parametrize("url,token,missing", [
    ("", "", "FAULTLINE_GRAFANA_URL and FAULTLINE_GRAFANA_TOKEN not set"),
    ("http://127.0.0.1:3000", "", "FAULTLINE_GRAFANA_TOKEN not set"),
    ("", TOKEN, "FAULTLINE_GRAFANA_URL not set"),
])
def test_missing_configuration_is_a_clear_error(settings_env, url, token, missing):
    result = CliRunner().invoke(main, ["grafana", "annotate"], env=_env(settings_env, url, token))
    assert result.exit_code == 1
    assert missing in result.output
    assert TOKEN not in result.output


def test_rejected_token_is_explained_without_echoing_it(settings_env, alert_history, grafana_server):
    grafana_server.status = 401
    result = CliRunner().invoke(main, ["grafana", "annotate", "--since", "2h"], env=_env(settings_env, grafana_server.url, TOKEN))
    assert result.exit_code == 1
    assert "HTTP 401" in result.output and "FAULTLINE_GRAFANA_TOKEN" in result.output
    assert TOKEN not in result.output


def test_unreachable_grafana_is_retryable(alert_history):
    client, _, now = alert_history
    api = HttpAnnotationApi("http://127.0.0.1:9", TOKEN, timeout=2.0)  # discard port: nothing listens
    with pytest.raises(GrafanaError) as err:
        push_annotations(client, api, now - 3_600_000, now)
    assert err.value.retryable and err.value.status is None
    assert TOKEN not in str(err.value)


def test_bad_time_range_is_rejected(settings_env, grafana_server):
    env = _env(settings_env, grafana_server.url, TOKEN)
    result = CliRunner().invoke(main, ["grafana", "annotate", "--since", "soon"], env=env)
    assert result.exit_code == 1 and "duration like 30m" in result.output
    result = CliRunner().invoke(main, ["grafana", "annotate", "--from", "2026-03-02T00:00:00Z",
                                       "--to", "2026-03-01T00:00:00Z"], env=env)
    assert result.exit_code == 2 and "starts after it ends" in result.output


def test_existing_annotations_are_read_page_by_page(alert_history, grafana_server):
    client, rows, now = alert_history
    api = HttpAnnotationApi(grafana_server.url, TOKEN, page_limit=2)
    first = push_annotations(client, api, now - 3_600_000, now)
    again = push_annotations(client, api, now - 3_600_000, now)
    assert (first.pushed, again.pushed, again.present) == (3, 0, 3)
    finds = [r for r in grafana_server.requests if r["method"] == "GET"]
    assert len(finds) >= 3  # the second run needed more than one page of two
    assert len(grafana_server.posted()) == 3
