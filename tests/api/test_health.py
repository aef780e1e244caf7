"""/health, /ready (real SQL file and real InfluxDB), /metrics, /docs."""

from __future__ import annotations

from fastapi.testclient import TestClient

from faultline.wiring import api_app
from faultline.settings import load_settings
from faultline.stack import free_port


def test_health_needs_no_key(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_checks_sql_and_influxdb(client):
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"sql": "ok", "influxdb": "ok"}}


def test_ready_is_503_naming_influxdb_when_it_is_down(settings_env, engine, tmp_path):
    env = dict(settings_env, FAULTLINE_INFLUX_URL=f"http://127.0.0.1:{free_port()}",
               FAULTLINE_INFLUX_TIMEOUT_S="2")
    app = api_app(load_settings(env), engine=engine)
    with TestClient(app) as c:
        response = c.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["sql"] == "ok" and body["checks"]["influxdb"].startswith("unreachable")


def test_create_app_without_engine_migrates_its_own_database(settings, influx):
    app = api_app(settings, influx=influx)
    with TestClient(app) as c:
        assert c.get("/ready").json()["checks"]["sql"] == "ok"
        bogus = {"Authorization": "Bearer flk_" + "x" * 43}
        assert c.get("/api/v1/apikeys", headers=bogus).status_code == 401  # looked up, not a 500


def test_openapi_docs_list_the_routes_and_bearer_scheme(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/apikeys" in spec["paths"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_metrics_count_requests_by_route_template(client, auth):
    client.get("/health")
    client.delete("/api/v1/apikeys/77", headers=auth("admin"))
    text = client.get("/metrics").text
    assert 'faultline_api_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'route="/api/v1/apikeys/{key_id}",status="404"' in text
    assert "/apikeys/77" not in text


def test_each_app_has_its_own_metrics_registry(settings, engine, influx):
    first = api_app(settings, engine=engine, influx=influx)
    second = api_app(settings, engine=engine, influx=influx)
    with TestClient(first) as a, TestClient(second) as b:
        a.get("/health")
        assert 'route="/health"' in a.get("/metrics").text
        assert 'route="/health"' not in b.get("/metrics").text


def test_metrics_gauge_tickets_by_state_and_dead_letters_by_reason(client, auth, engine, clock, open_ticket):
    from ingest import deadletters
    from ingest.deadletters import DeadLetter

    first, _second = open_ticket("pump-1"), open_ticket("pump-2")
    client.post(f"/api/v1/tickets/{first}/ack", headers=auth("technician"))
    deadletters.add(engine, [DeadLetter(clock.ms, "devices/a/telemetry", b"{", "decode", "json", "bad JSON"),
                             DeadLetter(clock.ms, "devices/b/telemetry", b"{", "decode", "json", "bad JSON"),
                             DeadLetter(clock.ms, "devices/c/logs", b"{}", "validate", "schema", "no level")])
    text = client.get("/metrics").text
    assert 'faultline_tickets{state="acknowledged"} 1.0' in text
    assert 'faultline_tickets{state="open"} 1.0' in text
    assert 'faultline_dead_letters{reason="json"} 2.0' in text
    assert 'faultline_dead_letters{reason="schema"} 1.0' in text


def test_an_unexpected_failure_is_a_generic_500_and_is_counted(settings, engine, influx, auth):
    class BrokenAlerts:
        def active(self):
            raise RuntimeError("secret-ish internal detail")

    app = api_app(settings, engine=engine, influx=influx, alerts=BrokenAlerts())
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/api/v1/alerts", headers=auth("viewer"))
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error; the server log has the cause"}
        assert 'route="/api/v1/alerts",status="500"' in c.get("/metrics").text
