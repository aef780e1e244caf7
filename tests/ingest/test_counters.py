"""Ingest's counters reach InfluxDB's `ingest_stats` and the API's /metrics, as the README promises."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from fastapi.testclient import TestClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from faultline.wiring import api_app
from faultline.settings import load_settings
from influx.client import InfluxClient
from faultline.wiring import ingest_service
from ingest.stats import totals_from
from support.publishing import publish_all
from support.waiting import wait_until


def _receive_without_acking(url: str, client_id: str, topic_filter: str, count: int) -> None:
    """Take `count` messages on the session ingest will resume, acknowledge none: the broker redelivers them."""
    got = threading.Semaphore(0)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5,
                         manual_ack=True)
    client.on_message = lambda *args: got.release()
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFF
    parts = urlsplit(url)
    client.connect(parts.hostname, parts.port, clean_start=False, properties=props)
    client.loop_start()
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.subscribe(topic_filter, qos=1)
    assert subscribed.wait(10)
    publish_all(url, [(f"{topic_filter[:-2]}/early-{i}/logs", json.dumps({"seq": 1, "level": "INFO", "msg": "m"}))
                      for i in range(count)])
    for _ in range(count):
        assert got.acquire(timeout=10)
    client.disconnect()
    client.loop_stop()


def test_metrics_carry_stored_dead_letters_skew_and_redeliveries(stack, env, prefix):
    _receive_without_acking(stack.mqtt_url, env["FAULTLINE_MQTT_CLIENT_ID"], f"{prefix}/#", 3)
    future = time.time() + 3600  # beyond the clock-skew bound: stored at receipt time, counted
    publish_all(stack.mqtt_url, [(f"{prefix}/bad-1/logs", b"{broken"), (f"{prefix}/bad-2/logs", b"[1, 2"),
                                 (f"{prefix}/skew-1/logs", json.dumps({"ts": future, "level": "INFO", "msg": "m"})),
                                 (f"{prefix}/ok-1/logs", json.dumps({"level": "INFO", "msg": "m"}))])
    settings = load_settings({**env, "FAULTLINE_STATS_INTERVAL_S": "0.5"})
    client = InfluxClient(stack.influx_url, settings.influx_db)
    service = ingest_service(settings)
    service.start()
    try:
        wait_until(lambda: totals_from(client).get(("stored", ""), 0) >= 5, 60, what="the counts in ingest_stats")
    finally:
        service.stop()
    with TestClient(api_app(settings)) as api:
        text = api.get("/metrics").text
    assert "# TYPE faultline_ingest_messages_total counter" in text
    assert 'faultline_ingest_messages_total{reason="",stage="stored"} 5.0' in text
    assert 'faultline_ingest_messages_total{reason="json",stage="decode"} 2.0' in text
    assert 'faultline_ingest_messages_total{reason="ts_replaced",stage="clock_skew"} 1.0' in text
    assert 'faultline_ingest_messages_total{reason="",stage="redelivered"} 3.0' in text


def test_spooled_batches_are_counted(private_stack, settings_env, prefix, tmp_path):
    env = {**settings_env, "FAULTLINE_MQTT_URL": private_stack.mqtt_url, "FAULTLINE_INFLUX_URL": private_stack.influx_url,
           "FAULTLINE_INFLUX_DB": private_stack.new_database(), "FAULTLINE_MQTT_TOPIC_PREFIX": prefix,
           "FAULTLINE_STATS_INTERVAL_S": "0.5"}
    settings = load_settings(env)
    service = ingest_service(settings)
    service.start()
    try:
        assert service.subscriber.wait_connected(20)
        private_stack.influxd.stop()
        publish_all(private_stack.mqtt_url, [(f"{prefix}/sp-{i}/logs", json.dumps({"level": "INFO", "msg": "m"}))
                                             for i in range(4)])
        wait_until(lambda: service.writer.spooled >= 1, 60, what="a batch in the spool")
        private_stack.influxd.start()
        client = InfluxClient(private_stack.influx_url, settings.influx_db)
        wait_until(lambda: totals_from(client).get(("spooled", ""), 0) >= 4, 90, what="the spooled count stored")
    finally:
        service.stop()
