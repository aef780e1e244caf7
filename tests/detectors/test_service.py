"""`faultline detect` end to end: real Mosquitto in, real InfluxDB out, state on disk."""

import json
from pathlib import Path
import threading
import time

import paho.mqtt.publish as publish

from detectors.engine import EngineConfig
from faultline.settings import load_settings
from influx.client import InfluxClient
from ingest.mqtt import Subscriber
from support.detect_service import HOUR, FakeSubscriber, detect_service, messages, wait_for

PREFIX = "detectortest"  # a topic prefix of our own on the shared broker


def test_detect_consumes_mqtt_and_writes_anomalies(stack, settings_env, tmp_path):
    settings = load_settings({**settings_env, "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": settings_env["FAULTLINE_MQTT_CLIENT_ID"],
                              "FAULTLINE_MQTT_TOPIC_PREFIX": PREFIX})
    client = InfluxClient(settings.influx_url, settings.influx_db)
    config = EngineConfig(lateness_s=0)

    def subscriber(url, client_id, topic_filter, on_message):
        return Subscriber(url, client_id, topic_filter, on_message)

    service = detect_service(settings, config, client, subscriber)
    assert service.client_id == settings_env["FAULTLINE_MQTT_CLIENT_ID"]
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,), kwargs={"poll_s": 0.1}, daemon=True)
    runner.start()
    assert service.subscriber.wait_connected(15)
    publish.multiple([{"topic": t, "payload": p, "qos": q, "retain": r} for t, p, q, r in messages(int(time.time() * 1000), PREFIX)],
                     hostname="127.0.0.1", port=stack.mqtt_port)
    # looks into the open hour may report the device before the hour closes with all eight faults
    rows = wait_for(lambda: [r for r in client.rows('SELECT * FROM "anomalies"') if r["observed"] == 8.0]
                    and client.rows('SELECT * FROM "anomalies"'))
    stop.set()
    runner.join(15)
    assert not runner.is_alive()
    assert {(r["detector"], r["scope"], r["subject"], r["code"]) for r in rows} == {
        ("device_fault_rate", "device", "p2", "E430")}
    assert all(r["score"] >= r["threshold"] for r in rows)
    assert service.rejected == 1
    assert service.state_path.exists()  # checkpoint written on shutdown
    assert service.state_path.parent == settings.data_dir / "detectors"


def test_sharded_service_uses_its_own_session_and_state_file(stack, settings_env):
    settings = load_settings(settings_env)
    service = detect_service(settings, EngineConfig(shard=(1, 4), cohort=False), None,
                             lambda *a: Subscriber(*a))
    assert service.client_id == settings.detector_mqtt_client_id + "-1-of-4"
    assert service.state_path.name == "state-1-of-4.pkl"


def test_clock_closes_windows_only_when_traffic_stops_and_checkpoints_when_due(stack, settings_env):
    from ingest.mqtt import Incoming

    settings = load_settings(settings_env)
    t0 = 1_767_225_600_000
    clock = [t0 / 1000 + 600.0]
    writes = []

    class Writer:
        def write(self, body, precision="ms"):
            writes.append(body)

    service = detect_service(settings, EngineConfig(lateness_s=0), Writer(), FakeSubscriber, now=lambda: clock[0])
    service.start()
    service.housekeeping()
    assert service.engine.next_window is None  # the clock never starts the windows
    for k in range(8):
        ev = json.dumps({"ts": t0 + 60_000 * (k + 1), "type": "fault", "code": "E430", "severity": "minor"}).encode()
        service.handle(Incoming("devices/p9/events", ev, t0 + 600_000, k + 1, 1, 0))
    assert service.subscriber.acked == list(range(1, 9))
    service.housekeeping()
    assert not writes and service.engine.next_window == t0 // HOUR  # traffic just flowed
    assert not service.state_path.exists()
    clock[0] += 3600.0
    service.housekeeping()  # quiet for an hour: the clock closes the windows up to now
    assert writes and "device_fault_rate" in writes[0] and "subject=p9" in writes[0]
    assert service.state_path.exists()  # and the checkpoint interval has passed


def test_faultline_detect_process_gets_what_was_queued_for_its_session(stack, settings_env):
    """The process's session is created first, messages are queued at the broker, then the process drains them."""
    import os
    import signal
    import subprocess
    import sys
    import uuid

    client_id = f"faultline-detect-{uuid.uuid4().hex[:8]}"
    prefix = f"det{uuid.uuid4().hex[:6]}"
    env = {**settings_env, "FAULTLINE_DETECTOR_LATENESS_S": "0", "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": client_id,
           "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}
    settings = load_settings(env)
    session = Subscriber(settings.mqtt_url, client_id, f"{prefix}/+/+", lambda m: None)
    session.start()
    assert session.wait_connected(15)
    session.stop()  # disconnected: the broker now queues for this client id
    publish.multiple([{"topic": t, "payload": p, "qos": q, "retain": r}
                      for t, p, q, r in messages(int(time.time() * 1000), prefix)], hostname="127.0.0.1",
                     port=stack.mqtt_port)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "faultline"), "detect"], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = InfluxClient(settings.influx_url, settings.influx_db)
        rows = wait_for(lambda: client.rows('SELECT * FROM "anomalies"'), timeout=60)
        assert (rows[0]["detector"], rows[0]["subject"]) == ("device_fault_rate", "p2")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert (settings.data_dir / "detectors" / "state-0-of-1.pkl").exists()


def test_shards_without_the_cohort_scan_leave_other_shards_devices_unread(stack, settings_env):
    """Two shards on one stream: each detects only its devices, reads only their messages, acknowledges all."""
    import uuid

    from detectors.fleet import shard_of

    prefix = f"shard{uuid.uuid4().hex[:6]}"  # retained meta of its own on the shared broker
    settings = load_settings({**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix})
    client = InfluxClient(settings.influx_url, settings.influx_db)
    sent = messages(int(time.time() * 1000), prefix)
    services, runners, stop = [], [], threading.Event()
    for i in range(2):
        service = detect_service(settings, EngineConfig(lateness_s=0, shard=(i, 2), cohort=False), client,
                                 lambda *a: Subscriber(*a))
        services.append(service)
        runners.append(threading.Thread(target=service.run, args=(stop,), kwargs={"poll_s": 0.1}, daemon=True))
        runners[-1].start()
        assert service.subscriber.wait_connected(15)
    publish.multiple([{"topic": t, "payload": p, "qos": q, "retain": r} for t, p, q, r in sent],
                     hostname="127.0.0.1", port=stack.mqtt_port)
    wait_for(lambda: all(s.processed + s.skipped == len(sent) for s in services))
    owner = services[shard_of("p2", 2)]
    rows = wait_for(lambda: [r for r in client.rows('SELECT * FROM "anomalies"') if r["observed"] == 8.0]
                    and client.rows('SELECT * FROM "anomalies"'))
    stop.set()
    for runner in runners:
        runner.join(15)
        assert not runner.is_alive()
    assert {(r["detector"], r["subject"]) for r in rows} == {("device_fault_rate", "p2")}
    for i, service in enumerate(services):
        mine = [t for t, *_ in sent if shard_of(t.split("/")[1], 2) == i]
        assert service.processed == len(mine) and service.skipped == len(sent) - len(mine)
        assert set(service.engine.devices) == {t.split("/")[1] for t in mine}
        assert service.rejected == (1 if service is owner else 0)  # p2's broken message: decoded by its shard only


def test_a_skipped_message_is_acknowledged_and_counts_as_traffic(stack, settings_env):
    from detectors.fleet import shard_of
    from ingest.mqtt import Incoming

    settings = load_settings(settings_env)
    clock = [1_767_225_600.0]
    service = detect_service(settings, EngineConfig(shard=(0, 2), cohort=False), None, FakeSubscriber,
                             now=lambda: clock[0])
    other = next(f"pump{k}" for k in range(100) if shard_of(f"pump{k}", 2) == 1)
    clock[0] += 10
    assert service.handle(Incoming(f"devices/{other}/telemetry", b"not even json", 0, 7, 1, 0))
    assert (service.subscriber.acked, service.skipped, service.rejected) == ([7], 1, 0)
    assert service._last_message == clock[0]
    cohort = detect_service(settings, EngineConfig(shard=(0, 2), cohort=True), None, FakeSubscriber)
    assert cohort.others is None  # the cohort scan needs every device's messages
    cohort.handle(Incoming(f"devices/{other}/telemetry", b"not even json", 0, 8, 1, 0))
    assert (cohort.skipped, cohort.rejected) == (0, 1)


def test_detect_over_mqtt_311_detects_and_leaves_retained_replays_unread(stack, settings_env):
    """MQTT 3.1.1 sends every retained message again on a reconnect: the second run acknowledges them unread."""
    import uuid

    prefix = f"d311{uuid.uuid4().hex[:6]}"
    settings = load_settings({**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix, "FAULTLINE_MQTT_PROTOCOL": "3.1.1",
                              "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": f"det311-{uuid.uuid4().hex[:6]}"})
    client = InfluxClient(settings.influx_url, settings.influx_db)
    sent = messages(int(time.time() * 1000), prefix)
    retained = sum(1 for *_, r in sent if r)

    def run_once(until):
        service = detect_service(settings, EngineConfig(lateness_s=0), client,
                                 lambda *a: Subscriber(*a, protocol=settings.mqtt_protocol))
        stop = threading.Event()
        runner = threading.Thread(target=service.run, args=(stop,), kwargs={"poll_s": 0.1}, daemon=True)
        runner.start()
        assert service.subscriber.wait_connected(15)
        until(service)
        stop.set()
        runner.join(15)
        assert not runner.is_alive()
        return service

    def first(service):
        publish.multiple([{"topic": t, "payload": p, "qos": q, "retain": r} for t, p, q, r in sent],
                         hostname="127.0.0.1", port=stack.mqtt_port)
        wait_for(lambda: service.processed == len(sent))

    one = run_once(first)
    assert (one.replayed, one.rejected) == (0, 1)
    rows = [r for r in client.rows('SELECT * FROM "anomalies"') if r["subject"] == "p2"]
    assert rows and rows[0]["detector"] == "device_fault_rate"
    two = run_once(lambda service: wait_for(lambda: service.replayed == retained))
    assert two.processed == 0  # the session had every retained meta: nothing fed twice


def test_large_payloads_wait_at_the_broker_beyond_the_inbox_bound(stack, settings_env):
    """The inbox counts bytes (FAULTLINE_INBOX_MAX_MB): while the detectors are busy, paho stops reading the
    socket once it holds that much, and the rest waits at the broker (QoS 1); then every message is handled."""
    prefix = f"{PREFIX}-bound"
    settings = load_settings({**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix, "FAULTLINE_INBOX_MAX_MB": "1",
                              "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": f"{settings_env['FAULTLINE_MQTT_CLIENT_ID']}-bound"})
    service = detect_service(settings, EngineConfig(lateness_s=0), None, lambda *a: Subscriber(*a))
    service.start()  # receiving, but nothing takes from the inbox yet (the detectors busy)
    assert service.subscriber.wait_connected(15)
    n, lines, size = 40, 10, 100_000  # 4 MB of logs (ten 10 KB lines a message) against a 1 MB bound
    ts = int(time.time() * 1000)
    logs = [{"topic": f"{prefix}/big-{k % 4}/logs", "qos": 1,
             "payload": json.dumps([{"ts": ts + k, "seq": k * lines + j + 1, "level": "INFO", "msg": "x" * (size // lines)}
                                    for j in range(lines)])} for k in range(n)]
    publish.multiple(logs, hostname="127.0.0.1", port=stack.mqtt_port)
    wait_for(lambda: service.inbox.bytes >= 900_000)
    time.sleep(0.5)  # what more paho would take, if the bound did not hold it
    held = len(service.inbox)
    assert 8 <= held < n and service.inbox.bytes <= 1_048_576 + size + 400  # the bound, or one message over it
    deadline = time.monotonic() + 60
    while service.processed < n and time.monotonic() < deadline:  # the run loop's step, the detectors free again
        msg = service.inbox.get(0.1)
        if msg is not None:
            service.handle(msg)
    service.shutdown()
    assert (service.processed, service.rejected, service.fed) == (n, 0, n * lines)
