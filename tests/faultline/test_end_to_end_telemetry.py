"""Telemetry incidents through `faultline run` on real Mosquitto, InfluxDB and SQL: one ticket each.

The telemetry detector reports once per episode; the alert stage must fire on
that one report (a stuck sensor logs no fault at all). Ten devices over a
simulated day, telemetry included, published as fast as the broker takes it:
the alert stage runs on the event clock, so pending and quiet periods mean
simulated time.
"""

from __future__ import annotations

import time
import uuid

import pytest

from database import make_engine
from faultline.stack import free_port
from support.incidents import messages_of, settled
from support.processes import ServiceProcess
from support.publishing import publish_all
from support.waiting import wait_until
from tickets.store import list_tickets

ALL_TOPICS = {"telemetry", "events", "logs", "meta", "status"}


@pytest.fixture
def env(settings_env):
    prefix = f"e2t{uuid.uuid4().hex[:8]}/devices"
    return {**settings_env, "FAULTLINE_API_PORT": str(free_port()), "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}


@pytest.mark.parametrize("scenario", ["stuck-sensor", "device-degradation"])
def test_a_telemetry_incident_becomes_one_device_ticket(stack, env, tmp_path, scenario):
    prefix = env["FAULTLINE_MQTT_TOPIC_PREFIX"]
    day = 86_400_000
    start = int(time.time() * 1000) // day * day - day  # yesterday, midnight UTC: the same daily phase every run
    msgs, truth = messages_of(scenario, 10, 2, prefix, topics=ALL_TOPICS, start_ms=start)
    (incident,) = truth.incidents
    service = ServiceProcess(env, tmp_path / "run.log").start()
    try:
        publish_all(stack.mqtt_url, msgs)
        engine = make_engine(f"sqlite:///{env['FAULTLINE_DATA_DIR']}/database")
        wait_until(lambda: [t for t in list_tickets(engine) if t.subject == incident.device], 180,
                   what=f"a ticket for {incident.device}")
        settled(engine)
        tickets = list_tickets(engine)
        assert service.terminate() == 0
    finally:
        service.stop_if_running()
    assert [(t.scope, t.subject, t.detector) for t in tickets] == [("device", incident.device, "telemetry")]
    ticket = tickets[0]
    assert ticket.opened_ms >= incident.start_ms
    metric = incident.expectations.get("metric") or next(iter(incident.expectations["rise"]))
    if scenario == "stuck-sensor":
        assert metric in ticket.explanation and "repeated" in ticket.explanation
    else:
        assert any(m in ticket.explanation for m in incident.expectations["rise"])
