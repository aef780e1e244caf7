"""/ready tells the truth about the pipeline (real Mosquitto and InfluxDB, stopped and frozen for real),
a thread that dies ends the process with a non-zero code, and a stop finishes within its timeout."""

from __future__ import annotations

import os
import signal
import time
import threading
import uuid

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from faultline.wiring import api_app
from faultline.settings import load_settings
from influx.client import InfluxClient
from faultline.commands import ingest as ingest_cli
from faultline.process import EXIT_DEAD, serve_until_stopped
from faultline.wiring import ingest_service
from ingest.writer import DurableWriter
from support.processes import IngestProcess
from support.publishing import publish_all, telemetry_stream
from support.waiting import wait_until


def env_for(stack, tmp_path, **extra) -> dict[str, str]:
    return {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": f"ready-{uuid.uuid4().hex[:8]}",
            "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": stack.new_database("ready"),
            "FAULTLINE_DATA_DIR": str(tmp_path / "data"), "FAULTLINE_READY_CACHE_S": "0",
            "FAULTLINE_LINGER_MS": "20", **extra}


@pytest.fixture
def served(request):
    """`served(env)` → (ingest service, API client whose /ready asks it); stopped after the test."""
    started = []

    def serve(env):
        settings = load_settings(env)
        service = ingest_service(settings)
        service.client.ensure_database()
        service.start()
        assert service.subscriber.wait_connected(20)
        api = TestClient(api_app(settings, engine=service.engine, pipeline=service))
        started.append(service)
        return service, api

    yield serve
    for service in started:
        service.stop()


def stored(client: InfluxClient) -> int:
    rows = client.rows('SELECT count("seq") FROM "telemetry"')
    return rows[0]["count"] if rows else 0


def test_ready_is_503_while_the_broker_is_down_and_200_once_it_is_back(private_stack, tmp_path, served):
    service, api = served(env_for(private_stack, tmp_path))
    body = api.get("/ready").json()
    assert body == {"status": "ready", "checks": {"sql": "ok", "influxdb": "ok", "mqtt": "ok", "ingest": "ok"}}
    private_stack.mosquitto.stop()
    down = wait_until(lambda: (r := api.get("/ready")).status_code == 503 and r.json(), 30, what="503 without broker")
    assert down["status"] == "not ready" and down["checks"]["mqtt"] == "not connected to the broker"
    assert down["checks"]["ingest"] == "ok" and api.get("/health").status_code == 200
    private_stack.mosquitto.start()
    wait_until(lambda: api.get("/ready").status_code == 200, 60, what="ready again with the broker back")
    publish_all(private_stack.mqtt_url, telemetry_stream(10, 2, int(time.time() * 1000)))
    client = InfluxClient(private_stack.influx_url, service.client.db)
    wait_until(lambda: stored(client) == 10, 30, what="messages after the outage stored")


def test_ready_names_a_stalled_pipeline_while_influxdb_is_frozen(private_stack, tmp_path, served):
    """A frozen InfluxDB holds a write open: messages wait, no batch completes, /ready says so."""
    service, api = served(env_for(private_stack, tmp_path, FAULTLINE_READY_STALL_S="2",
                                  FAULTLINE_INFLUX_TIMEOUT_S="60"))
    influxd = private_stack.influxd.pid()
    os.kill(influxd, signal.SIGSTOP)
    try:
        publish_all(private_stack.mqtt_url, telemetry_stream(50, 5, int(time.time() * 1000)))
        stalled = wait_until(lambda: (r := api.get("/ready")).status_code == 503 and "waiting" in
                             r.json()["checks"]["ingest"] and r.json(), 30, what="a stall reported")
        assert "no batch completed for" in stalled["checks"]["ingest"] and stalled["checks"]["mqtt"] == "ok"
    finally:
        os.kill(influxd, signal.SIGCONT)
    client = InfluxClient(private_stack.influx_url, service.client.db)
    wait_until(lambda: stored(client) == 50, 60, what="everything stored once InfluxDB runs again")
    wait_until(lambda: api.get("/ready").status_code == 200, 30, what="ready again")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
def test_a_thread_that_dies_makes_ready_say_so_and_the_command_exit_non_zero(stack, tmp_path, served, monkeypatch):
    def die(self):
        raise SystemExit("simulated: a thread ends on something no guard catches")

    monkeypatch.setattr(DurableWriter, "drain_forever", die)
    env = env_for(stack, tmp_path)
    service, api = served(env)
    body = wait_until(lambda: (r := api.get("/ready")).status_code == 503 and r.json(), 10, what="503")
    assert body["checks"]["ingest"] == "thread ingest-drainer stopped"
    assert serve_until_stopped(service.subscriber, threading.Event(), "ready",
                               service.supervisor.dead) == ["ingest-drainer"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("FAULTLINE_MQTT_CLIENT_ID", f"ready-cli-{uuid.uuid4().hex[:8]}")
    result = CliRunner().invoke(ingest_cli.ingest, ["--workers", "1"])  # this process's threads, patched above
    assert result.exit_code == EXIT_DEAD, result.output


def test_stop_finishes_within_its_timeout_with_influxdb_frozen_and_loses_nothing(private_stack, tmp_path):
    env = env_for(private_stack, tmp_path, FAULTLINE_STOP_TIMEOUT_S="6", FAULTLINE_INFLUX_TIMEOUT_S="60")
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    influxd = private_stack.influxd.pid()
    client = InfluxClient(private_stack.influx_url, env["FAULTLINE_INFLUX_DB"])
    try:
        os.kill(influxd, signal.SIGSTOP)
        publish_all(private_stack.mqtt_url, telemetry_stream(200, 4, int(time.time() * 1000)))
        ingest.proc.send_signal(signal.SIGTERM)
        # within the stop timeout plus interpreter exit on a busy machine, far below the 60 s write it abandons
        assert ingest.proc.wait(timeout=6 + 14) == 0
        os.kill(influxd, signal.SIGCONT)
        ingest.start()
        wait_until(lambda: stored(client) == 200, 60, what="every message stored after the restart")
        assert ingest.terminate() == 0
    finally:
        os.kill(influxd, signal.SIGCONT)
        ingest.stop_if_running()
