"""`faultline run` as a user starts it: what it creates, what it says, and when it refuses to start."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

from faultline.stack import free_port
from influx.client import InfluxClient
from support.processes import ServiceProcess, faultline_cli
from support.publishing import publish_all
from support.waiting import wait_until


def test_api_port_taken_is_an_exit_with_the_reason(settings_env, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**settings_env, "FAULTLINE_API_PORT": str(port)}
        run = faultline_cli(["run"], cwd=tmp_path, env=env, timeout=60)
        api = faultline_cli(["api"], cwd=tmp_path, env=env, timeout=60)
    for result in (run, api):
        assert result.returncode == 1, result.stderr[-2000:]
        assert f"cannot serve the API on 127.0.0.1:{port}: the port is already in use" in result.stderr
        assert "FAULTLINE_API_PORT" in result.stderr
    assert "subscribed" not in run.stderr  # nothing started before the refusal


def test_run_creates_its_database_says_what_it_does_and_stays_quiet(stack, settings_env, tmp_path):
    database = f"new_{uuid.uuid4().hex[:8]}"  # not created by anyone: `faultline run` must
    prefix = f"run{uuid.uuid4().hex[:6]}/devices"
    env = {**settings_env, "FAULTLINE_INFLUX_DB": database, "FAULTLINE_API_PORT": str(free_port()),
           "FAULTLINE_MQTT_TOPIC_PREFIX": prefix, "FAULTLINE_LOG_SUMMARY_S": "1"}
    log = tmp_path / "run.log"
    service = ServiceProcess(env, log).start()
    try:
        client = InfluxClient(stack.influx_url, database)
        assert database in {row["name"] for row in client.rows("SHOW DATABASES")}
        publish_all(stack.mqtt_url, [(f"{prefix}/pump-1/logs", b'{"level": "ERROR", "code": "E1", "msg": "x"}')])
        wait_until(lambda: client.rows('SELECT count("seq"), count("msg") FROM "device_logs"'), 30,
                   what="the record stored, not spooled")
        wait_until(lambda: "stored 1 messages" in log.read_text(), 30, what="a summary line counting it")
    finally:
        assert service.terminate() == 0
    text = Path(log).read_text()
    jobs = next(line for line in text.splitlines() if "scheduled jobs:" in line)
    assert "detector-checkpoint every 300 s" in jobs and "tickets-evidence-retry every 60 s" in jobs
    assert "late records 0, anomalies 0; open tickets 0" in text
    for noise in ("alembic", "apscheduler", "Adding job", "Context impl", "Traceback"):
        assert noise not in text, noise
