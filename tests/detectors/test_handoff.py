"""`FAULTLINE_DETECTOR_HANDOFF=2`: `faultline ingest` hands each shard its devices' records; no shard reads the device stream.

A real `faultline ingest` process, two detector shards (the cohort one and
another) on real MQTT sessions, real InfluxDB.
"""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.publish as publish
import pytest

from detectors.engine import EngineConfig
from detectors.fleet import shard_of
from faultline.settings import load_settings
from influx.client import InfluxClient
from ingest.handoff import encode
from ingest.mqtt import Incoming, Subscriber
from ingest.records import DeviceStatus
from support.processes import IngestProcess
from support.detect_service import FakeSubscriber, detect_service, messages, wait_for


@pytest.fixture
def handoff_env(settings_env):
    return {**settings_env, "FAULTLINE_DETECTOR_HANDOFF": "2",
            "FAULTLINE_MQTT_TOPIC_PREFIX": f"ho{uuid.uuid4().hex[:6]}",  # handoff topics of its own on the broker
            "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": f"det-{uuid.uuid4().hex[:6]}"}


def test_each_shard_gets_its_devices_records_from_ingest_and_the_cohort_shard_gets_all(stack, handoff_env, tmp_path):
    settings = load_settings(handoff_env)
    prefix = settings.mqtt_topic_prefix
    client = InfluxClient(settings.influx_url, settings.influx_db)
    sent = messages(int(time.time() * 1000), prefix)
    good = [t for t, p, *_ in sent if p != b"{not json"]  # the broken one is dead-lettered by ingest
    stop, shards, runners = threading.Event(), [], []
    for i in range(2):
        shard = detect_service(settings, EngineConfig(lateness_s=0, shard=(i, 2), cohort=i == 0), client,
                               lambda *a: Subscriber(*a))
        assert shard.topic_filter == f"faultline/handoff/{prefix}/2/{'+' if i == 0 else 1}"
        shards.append(shard)
        runners.append(threading.Thread(target=shard.run, args=(stop,), kwargs={"poll_s": 0.1}, daemon=True))
        runners[-1].start()
        assert shard.subscriber.wait_connected(15)
    ingest = IngestProcess(handoff_env, tmp_path / "ingest.log").start()
    try:
        publish.multiple([{"topic": t, "payload": p, "qos": q, "retain": r} for t, p, q, r in sent],
                         hostname="127.0.0.1", port=stack.mqtt_port)
        mine = [t for t in good if shard_of(t.split("/")[1], 2) == 1]
        wait_for(lambda: shards[0].fed == len(good) and shards[1].fed == len(mine))
        rows = wait_for(lambda: [r for r in client.rows('SELECT * FROM "anomalies"') if r["observed"] == 8.0]
                        and client.rows('SELECT * FROM "anomalies"'))
        assert ingest.terminate() == 0
    finally:
        ingest.stop_if_running()
        stop.set()
        for runner in runners:
            runner.join(15)
    assert b"handing durable records to 2 detector shards" in (tmp_path / "ingest.log").read_bytes()
    assert {(r["detector"], r["subject"]) for r in rows} == {("device_fault_rate", "p2")}
    assert set(shards[1].engine.devices) == {t.split("/")[1] for t in mine}  # its own devices, nothing else
    assert {s.rejected for s in shards} == {0}  # the broken message never left ingest
    assert shards[1].processed < len(mine)  # records came batched, not one message each


def test_a_shard_acknowledges_a_handoff_it_cannot_read_and_feeds_nothing(stack, handoff_env):
    settings = load_settings(handoff_env)
    shard = detect_service(settings, EngineConfig(shard=(1, 2), cohort=False), None, FakeSubscriber)
    topic = shard.topic_filter
    for mid, payload in enumerate((b"not json", b'{"v": 2, "records": []}', b'{"v": 1, "records": [["t", 5]]}',
                                   b'{"v": 1, "records": [["s", "p1", 0, "yes"]]}'), start=1):
        assert shard.handle(Incoming(topic, payload, 0, mid, 1, 0))
    assert (shard.subscriber.acked, shard.rejected, shard.fed) == ([1, 2, 3, 4], 4, 0)
    assert shard.handle(Incoming(topic, encode([DeviceStatus("p1", 0, False)]), 0, 5, 1, 0))
    assert (shard.rejected, shard.fed) == (4, 1)


def test_a_shard_of_another_count_than_the_handoff_is_refused(stack, handoff_env):
    settings = load_settings(handoff_env)
    with pytest.raises(ValueError, match="FAULTLINE_DETECTOR_HANDOFF=2 .* shard 1 of 3"):
        detect_service(settings, EngineConfig(shard=(1, 3), cohort=False), None, FakeSubscriber)


def test_kill_9_of_one_worker_hands_every_record_on_at_least_once(stack, handoff_env, tmp_path):
    """`faultline ingest --workers 2`: a batch is acknowledged only once its handoff is with the broker."""
    import os
    import signal
    from pathlib import Path

    from support.publishing import publish_all, telemetry_stream

    n, devices = 12_000, 50
    env = {**handoff_env, "FAULTLINE_MQTT_SHARED_GROUP": f"ho{uuid.uuid4().hex[:6]}"}
    settings = load_settings(env)
    prefix = settings.mqtt_topic_prefix
    client = InfluxClient(settings.influx_url, settings.influx_db)
    shard = detect_service(settings, EngineConfig(lateness_s=0, shard=(0, 2), cohort=True), client,
                           lambda *a: Subscriber(*a))
    seen: list[tuple[str, int]] = []
    feed = shard.pipeline.feed
    shard.pipeline.feed = lambda records: (seen.extend((r.device, r.seq) for r in records), feed(records))
    stop = threading.Event()
    runner = threading.Thread(target=shard.run, args=(stop,), kwargs={"poll_s": 0.1}, daemon=True)
    runner.start()
    assert shard.subscriber.wait_connected(15)
    log_path = tmp_path / "pool.log"
    pool = IngestProcess(env, log_path, args=("--workers", "2")).start()
    workers: list[int] = []
    try:
        wait_for(lambda: log_path.read_bytes().count(b"subscribed to $share/") >= 2, timeout=60)
        workers = [int(p) for p in Path(f"/proc/{pool.proc.pid}/task/{pool.proc.pid}/children").read_text().split()]
        stream = ((t.replace("devices/", f"{prefix}/", 1), p)
                  for t, p in telemetry_stream(n, devices, int(time.time() * 1000) - 3_600_000))
        publisher = threading.Thread(target=publish_all, args=(stack.mqtt_url, stream), daemon=True)
        publisher.start()
        wait_for(lambda: len(seen) >= 1_500, timeout=120)
        os.kill(workers[0], signal.SIGKILL)
        assert len(set(seen)) < n, "the kill must land mid-stream"
        publisher.join(300)
        wait_for(lambda: len(set(seen)) == n, timeout=300)
        assert pool.terminate() == 0
    finally:
        pool.stop_if_running()
        for pid in workers:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        stop.set()
        runner.join(15)
    assert set(seen) == {(f"dev-{d:04d}", s) for d in range(devices) for s in range(1, n // devices + 1)}
    assert b"ended with signal 9" in log_path.read_bytes()


def test_a_backlog_larger_than_the_inbox_drains_with_the_handoff(stack, handoff_env, tmp_path):
    """The network thread blocks on a full inbox; acknowledging after the handoff must not wait on it."""
    from support.publishing import publish_all, telemetry_stream

    n, devices = 20_000, 100
    env = {**handoff_env, "FAULTLINE_INBOX_MAX_MB": "1"}  # about 4,000 messages
    settings = load_settings(env)
    prefix = settings.mqtt_topic_prefix
    client = InfluxClient(settings.influx_url, settings.influx_db)
    shard = detect_service(settings, EngineConfig(lateness_s=0, shard=(0, 2), cohort=True), client,
                           lambda *a: Subscriber(*a))
    stop = threading.Event()
    runner = threading.Thread(target=shard.run, args=(stop,), kwargs={"poll_s": 0.1}, daemon=True)
    runner.start()
    assert shard.subscriber.wait_connected(15)
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    assert ingest.terminate() == 0  # its session now queues: the backlog waits for it
    publish_all(stack.mqtt_url, ((t.replace("devices/", f"{prefix}/", 1), p)
                                 for t, p in telemetry_stream(n, devices, int(time.time() * 1000) - 3_600_000)))
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    try:
        wait_for(lambda: shard.fed == n, timeout=120)
        # a batch is handed on once durable, which may be in the spool for a moment before InfluxDB has it
        count = lambda: (client.rows('SELECT count("m0") FROM "telemetry"') or [{"count": 0}])[0]["count"]
        wait_for(lambda: count() >= n, timeout=60)
        assert count() == n
        assert ingest.terminate() == 0
    finally:
        ingest.stop_if_running()
        stop.set()
        runner.join(15)
