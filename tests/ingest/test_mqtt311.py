"""Ingest over MQTT 3.1.1 (``FAULTLINE_MQTT_PROTOCOL=3.1.1``): what differs from MQTT 5, on a real broker.

Retained messages come again with every subscription (no retain handling):
stored again, counted once. The bound on unacknowledged messages is the
broker's; one below the batch size still drains (batches go at the linger
time). Kill -9, the bound with InfluxDB down and the worker pool run over
both protocols in `test_durability` and `test_workers`.
"""

from __future__ import annotations

import time

import orjson
import pytest

from faultline.settings import load_settings
from faultline.stack import Mosquitto, free_port
from faultline.wiring import ingest_service
from influx.client import InfluxClient
from ingest.ledger import load_entries
from support.publishing import publish_all, telemetry_stream
from support.waiting import wait_until


def count(client: InfluxClient, measurement: str, field: str) -> int:
    rows = client.rows(f'SELECT count("{field}") FROM "{measurement}"')
    return rows[0]["count"] if rows else 0


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_retained_messages_replayed_on_a_reconnect_are_counted_once(stack, env, prefix, protocol):
    """A restart resumes the session; over 3.1.1 its SUBSCRIBE brings every retained message again."""
    env = {**env, "FAULTLINE_MQTT_PROTOCOL": protocol, "FAULTLINE_LINGER_MS": "20"}
    client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
    topic = f"{prefix}/pump-1/{{}}"
    ts = int(time.time() * 1000) - 60_000
    retained = [(topic.format("meta"), orjson.dumps({"model": "PX-200", "firmware": "2.1.0", "site": "sh-03"}), True),
                (topic.format("status"), b"online", True),
                (topic.format("events"), orjson.dumps({"ts": ts, "seq": 1, "type": "fault", "code": "E214",
                                                       "severity": "major"}), True)]
    reading = lambda seq: (topic.format("telemetry"), orjson.dumps({"ts": ts + seq, "seq": seq, "metrics": {"a": 1}}))
    first: list = []
    service = ingest_service(load_settings(env), sinks=[first.extend])
    service.start()
    try:
        assert service.subscriber.wait_connected(20)
        publish_all(stack.mqtt_url, retained + [reading(1)])
        wait_until(lambda: service.acked == 4, 30, what="the first four messages stored")
    finally:
        service.stop()
    assert [type(r).__name__ for r in first] == ["DeviceMeta", "DeviceStatus", "DeviceEvent", "Telemetry"]
    again: list = []
    service = ingest_service(load_settings(env), sinks=[again.extend])
    service.start()
    replays = 3 if protocol == "3.1.1" else 0
    try:
        assert service.subscriber.wait_connected(20)
        publish_all(stack.mqtt_url, [reading(2)])
        wait_until(lambda: service.acked == 1 + replays, 30, what="the reading after the restart stored")
    finally:
        service.stop()  # the writer thread counts a batch's stats just after acknowledging it
    assert service.stats.total("redelivered") == replays
    # The detectors (the sink) see the new reading, and over 3.1.1 the same cohort again; never the fault twice.
    assert [type(r).__name__ for r in again] == (["DeviceMeta", "Telemetry"] if replays else ["Telemetry"])
    assert (count(client, "device_events", "code"), count(client, "telemetry", "a")) == (1, 2)  # the same point
    assert count(client, "device_status", "online") == 1 + bool(replays)  # the status again, at its new receipt
    ledger = {e.topic: (e.received, e.duplicates) for e in load_entries(service.engine, "pump-1")}
    assert ledger == {"events": (1, 0), "telemetry": (2, 0)}
    publish_all(stack.mqtt_url, [(t, b"", True) for t, _, _ in retained])  # clear them


class SmallWindowMosquitto(Mosquitto):
    """Faultline's broker config but for ``max_inflight_messages``, here below ingest's batch size."""

    window = 20

    def write_config(self) -> None:
        super().write_config()
        text = self.config_file.read_text()
        self.config_file.write_text(text.replace("max_inflight_messages 20000\n",
                                                 f"max_inflight_messages {self.window}\n"))


def test_a_broker_bound_below_the_batch_size_still_drains_at_the_linger_time(stack, env, tmp_path):
    """FAULTLINE_MQTT_BROKER_MAX_INFLIGHT left at 20000 (ingest flushes at 5000) while this broker sends 20
    unacknowledged: the first batch waits only the linger time. (Mosquitto 2.0.11 then overshoots its bound once
    acknowledgements flow, see `test_durability`; a broker that keeps it drains 20 per linger time.)"""
    broker = SmallWindowMosquitto(tmp_path / "mqtt", free_port())
    broker.start()
    try:
        assert f"max_inflight_messages {broker.window}\n" in broker.config_file.read_text()
        env = {**env, "FAULTLINE_MQTT_URL": broker.url, "FAULTLINE_MQTT_PROTOCOL": "3.1.1",
               "FAULTLINE_MQTT_TOPIC_PREFIX": "devices", "FAULTLINE_LINGER_MS": "50"}
        service = ingest_service(load_settings(env))
        assert service.flush_messages == 5000
        service.start()
        client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
        n = 600
        try:
            assert service.subscriber.wait_connected(20)
            publish_all(broker.url, telemetry_stream(n, 10, int(time.time() * 1000) - 3_600_000))
            wait_until(lambda: count(client, "telemetry", "seq") == n, 60, what=f"all {n} stored")
        finally:
            service.stop()
        assert service.acked == n
    finally:
        broker.stop()
