"""Simulated incidents end to end: a scenario's messages, what InfluxDB should hold, a quiet pipeline."""

from __future__ import annotations

import time

import orjson

SIM_TOPICS = {"events", "logs", "meta", "status"}  # the fault-rate detectors' inputs; no telemetry keeps runs short


def messages_of(scenario: str, devices: int, seed: int, prefix: str, topics=SIM_TOPICS, start_ms=None):
    """The scenario's messages under this test's own topic prefix (other tests' retained
    messages never reach it), and its ground truth."""
    from simulators.fleet import Simulation

    sim = Simulation(scenario, devices=devices, seed=seed, topics=topics, start_ms=start_ms)
    msgs = [(prefix + m.topic[len("devices"):], m.payload, m.retain) for m in sim.messages() if not m.will]
    return msgs, sim.truth()


def stored_count(client) -> int:
    """Log and event records stored in InfluxDB."""
    total = 0
    for measurement in ("device_logs", "device_events"):
        rows = client.rows(f'SELECT count("seq") FROM "{measurement}"')
        total += rows[0]["count"] if rows else 0
    return total


def expected_records(msgs) -> int:
    """Log and event records in published messages (a payload may be a list of records)."""
    count = 0
    for topic, payload, _ in msgs:
        if topic.endswith(("/logs", "/events")):
            doc = orjson.loads(payload)
            count += len(doc) if isinstance(doc, list) else 1
    return count


def settled(engine, quiet_s: float = 4.0) -> None:
    """Wait until the alert state has not changed for `quiet_s` (the pipeline went quiet)."""
    from sqlalchemy import text

    def version():
        with engine.connect() as conn:
            return conn.execute(text("SELECT coalesce(sum(version), 0), count(*) FROM alert_states")).one()

    last, since = version(), time.monotonic()
    deadline = time.monotonic() + 120
    while time.monotonic() - since < quiet_s:
        assert time.monotonic() < deadline, "the pipeline never went quiet"
        time.sleep(0.5)
        now = version()
        if now != last:
            last, since = now, time.monotonic()
