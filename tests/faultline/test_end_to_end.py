"""The whole path on real Mosquitto, InfluxDB and SQL: a simulated incident becomes one ticket.

`faultline run` runs as a real process; the simulator's messages go through
the broker. Telemetry is left out of the published stream to keep the run
short (the fault-rate detectors use faults and logs).
"""

from __future__ import annotations

import uuid

import pytest

from database import make_engine
from faultline.stack import free_port
from influx.client import InfluxClient
from support.incidents import expected_records, messages_of, settled, stored_count
from support.processes import ServiceProcess
from support.publishing import publish_all
from support.waiting import wait_until
from tickets.store import list_tickets


@pytest.fixture
def prefix() -> str:
    return f"e2e{uuid.uuid4().hex[:8]}/devices"


@pytest.fixture
def env(settings_env, prefix):
    return {**settings_env, "FAULTLINE_API_PORT": str(free_port()), "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}


def test_firmware_regression_is_one_cohort_ticket_across_kill_and_replay(stack, env, prefix, tmp_path):
    msgs, truth = messages_of("firmware-regression", 100, 0, prefix)
    incident = truth.incidents[0]
    client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
    service = ServiceProcess(env, tmp_path / "run.log").start()
    try:
        half = len(msgs) // 2
        publish_all(stack.mqtt_url, msgs[:half])
        service.kill()  # kill -9 midway
        service.start()
        publish_all(stack.mqtt_url, msgs[half:])
        wait_until(lambda: stored_count(client) >= expected_records(msgs), 120, what="every record stored")
        engine = make_engine(f"sqlite:///{env['FAULTLINE_DATA_DIR']}/database")
        wait_until(lambda: list_tickets(engine), 120, what="a ticket")
        settled(engine)
        publish_all(stack.mqtt_url, msgs)  # the same scenario again
        settled(engine)
        tickets = list_tickets(engine)
        assert service.terminate() == 0
    finally:
        service.stop_if_running()
    assert len(tickets) == 1, [t.title for t in tickets]
    ticket = tickets[0]
    assert ticket.scope == "cohort" and "firmware=2.1.0" in ticket.subject and ticket.code == "E214"
    assert "firmware=2.1.0" in ticket.explanation
    affected = set(incident.affected_devices)
    assert ticket.devices and set(ticket.devices) <= affected
    markers = incident.root_cause_markers
    assert any(m in line.msg for line in ticket.evidence.logs for m in markers)


def test_healthy_fleet_opens_no_ticket(stack, env, prefix, tmp_path):
    msgs, _ = messages_of("healthy", 100, 5, prefix)
    client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
    service = ServiceProcess(env, tmp_path / "run.log").start()
    try:
        publish_all(stack.mqtt_url, msgs)
        wait_until(lambda: stored_count(client) >= expected_records(msgs), 120, what="every record stored")
        engine = make_engine(f"sqlite:///{env['FAULTLINE_DATA_DIR']}/database")
        settled(engine, quiet_s=6.0)
        assert list_tickets(engine) == []
        assert service.terminate() == 0
    finally:
        service.stop_if_running()
