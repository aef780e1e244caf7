"""No message lost: kill -9, InfluxDB outage, broker restart, spool full, graceful stop.

Counting happens in InfluxDB: every (device, seq) published must be there once.
The kill -9 and the bound on unacknowledged messages run over MQTT 5 and
over MQTT 3.1.1 (``FAULTLINE_MQTT_PROTOCOL``), whose bound is the broker's
``max_inflight_messages`` instead of Faultline's receive maximum.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from faultline.settings import load_settings
from influx.client import InfluxClient
from faultline.wiring import ingest_service
from ingest.batch import SpooledBatch
from ingest.spool import Spool
from ingest.workers import auto_workers
from support.ingest_checks import per_device, queued_for, stored
from support.processes import IngestProcess
from support.publishing import publish_all, telemetry_stream
from support.waiting import wait_until


def in_background(fn, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def env_for(stack, tmp_path, db: str, **extra) -> dict[str, str]:
    return {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": f"ingest-{db}",
            "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": db,
            "FAULTLINE_DATA_DIR": str(tmp_path / "data"), **extra}


@pytest.mark.parametrize("protocol, args", [("5", ("--workers", "1")), ("5", ()), ("3.1.1", ("--workers", "1")),
                                            ("3.1.1", ())])
def test_kill_9_mid_stream_loses_nothing_and_duplicates_add_no_points(private_stack, tmp_path, protocol, args):
    """`faultline ingest` as a user starts it (one writer per core fed by one session, `ingest.relay`: a kill -9
    of the relay leaves its workers to stop on their own), and as one process (``--workers 1``)."""
    stack = private_stack
    n, devices = 50_000, 100
    db = stack.new_database("kill")
    env = env_for(stack, tmp_path, db, FAULTLINE_MQTT_PROTOCOL=protocol)
    client = InfluxClient(stack.influx_url, db)
    ingest = IngestProcess(env, tmp_path / "ingest.log", args=args).start()
    workers = 1 if args else auto_workers()  # as a user starts it: one writer per core
    try:
        if workers > 1:  # (said once the relay's session is subscribed, just after paho's own log line)
            wait_until(lambda: f"{workers} workers behind it" in (tmp_path / "ingest.log").read_text(), 30,
                       what="the relay's start line")
        else:
            assert "workers behind it" not in (tmp_path / "ingest.log").read_text()
        publisher = in_background(publish_all, stack.mqtt_url, telemetry_stream(n, devices, int(time.time() * 1000) - 3_600_000))
        wait_until(lambda: stored(client) >= 10_000, 120, what="10,000 stored before the kill")
        ingest.kill()
        assert stored(client) < n, "the kill must land mid-stream"
        ingest.start()
        publisher.join(300)
        wait_until(lambda: stored(client) == n, 300, what=f"all {n} stored after restart")
        assert per_device(client) == {f"dev-{d:04d}": n // devices for d in range(devices)}
        assert ingest.terminate() == 0
    finally:
        ingest.stop_if_running()
    assert stored(client) == n  # redelivered duplicates overwrote, never added


def test_influxdb_down_for_30s_under_load_then_everything_in_order(private_stack, tmp_path):
    stack = private_stack
    db = stack.new_database("outage")
    settings = load_settings(env_for(stack, tmp_path, db, FAULTLINE_LINGER_MS="50"))
    service = ingest_service(settings)
    service.start()
    assert service.subscriber.wait_connected(20)
    client = InfluxClient(stack.influx_url, db)
    base = int(time.time() * 1000) - 3_600_000
    n_total = 0

    def publish_phase(count: int, version: int) -> None:
        # 40 "order" devices re-send the same point (same ts and seq) with a rising version:
        # the value left in InfluxDB must be the last one sent, i.e. writes kept their order.
        msgs = list(telemetry_stream(count, 50, base + version * 10_000_000))
        msgs += [(f"devices/order-{d:02d}/telemetry", orjson.dumps({"ts": base, "seq": 1, "metrics": {"v": version}}))
                 for d in range(40)]
        publish_all(stack.mqtt_url, msgs)

    try:
        publish_phase(2_000, 1)
        n_total += 2_000
        wait_until(lambda: stored(client) == n_total + 40, 60, what="first phase stored")
        stack.influxd.stop()
        outage_start = time.monotonic()
        version = 2
        while time.monotonic() - outage_start < 30:
            publish_phase(1_000, version)
            n_total += 1_000
            version += 1
        wait_until(lambda: len(service.spool) > 0, 30, what="batches spooled during the outage")
        stack.influxd.start()
        wait_until(lambda: stored(client) == n_total + 40 and len(service.spool) == 0, 180,
                   what="spool drained and everything stored")
        last = lambda: {r["device"]: r["v"] for r in client.rows('SELECT last("v") AS v FROM "telemetry" GROUP BY "device"')
                        if r["device"].startswith("order-")}
        # the last phase's versions may be in a batch written after the spool emptied; an older version written
        # after a newer one would stay for good
        wait_until(lambda: last() == {f"order-{d:02d}": float(version - 1) for d in range(40)}, 30,
                   what="every order- device at its last version")
    finally:
        service.stop()
    assert stored(client) == n_total + 40


def test_broker_restart_mid_stream_loses_nothing(private_stack, tmp_path):
    stack = private_stack
    n = 20_000
    db = stack.new_database("broker")
    env = env_for(stack, tmp_path, db)
    client = InfluxClient(stack.influx_url, db)
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    try:
        first = list(telemetry_stream(n, 50, int(time.time() * 1000) - 3_600_000))
        publish_all(stack.mqtt_url, first[: n // 2], client_id="pub-broker-test")
        stack.mosquitto.stop()  # graceful: persistence writes the queued session to disk
        stack.mosquitto.start()
        publish_all(stack.mqtt_url, first[n // 2:], client_id="pub-broker-test")
        wait_until(lambda: stored(client) == n, 180, what=f"all {n} stored across the broker restart")
        assert ingest.terminate() == 0
    finally:
        ingest.stop_if_running()


def test_full_spool_applies_backpressure_and_drops_nothing(private_stack, tmp_path):
    stack = private_stack
    db = stack.new_database("spoolfull")
    settings = load_settings(env_for(stack, tmp_path, db, FAULTLINE_SPOOL_MAX_MB="1",
                                     FAULTLINE_MQTT_MAX_INFLIGHT="200", FAULTLINE_LINGER_MS="20"))
    service = ingest_service(settings)
    service.start()
    assert service.subscriber.wait_connected(20)
    client = InfluxClient(stack.influx_url, db)
    n = 12_000
    try:
        stack.influxd.stop()
        publisher = in_background(publish_all, stack.mqtt_url,
                                  telemetry_stream(n, 20, int(time.time() * 1000) - 3_600_000, metrics=8))
        wait_until(lambda: service.spool.size_bytes > 900_000, 120, what="the spool filling up")
        acked_when_full = service.acked
        assert acked_when_full < n
        assert service.spool.size_bytes <= 1_048_576 + 400_000  # the bound, give or take one batch
        stack.influxd.start()
        publisher.join(300)
        wait_until(lambda: stored(client) == n, 300, what="every message stored after backpressure")
        wait_until(lambda: service.acked >= n, 60, what="every message acknowledged")
        # The drainer removes a batch from the spool just after InfluxDB takes it.
        wait_until(lambda: len(service.spool) == 0, 30, what="the spool drained")
    finally:
        service.stop()


def full_spool(directory, lines: int = 30_000) -> None:
    """A spool at its 1 MB bound before ingest starts: no batch is acknowledged until InfluxDB takes it."""
    filler = [f"filler,n={i % 10} v={i}i {1_700_000_000_000_000_000 + i}" for i in range(lines)]
    Spool(directory, 1_048_576).append(SpooledBatch(filler, []))


@pytest.mark.parametrize("protocol, bound", [
    ("5", 200),  # FAULTLINE_MQTT_MAX_INFLIGHT, announced as the receive maximum
    ("3.1.1", 20000),  # the broker's max_inflight_messages (FAULTLINE_MQTT_MAX_INFLIGHT is not announced)
])
def test_with_influxdb_down_the_broker_sends_at_most_its_bound_unacknowledged(private_stack, tmp_path, protocol,
                                                                               bound):
    """No acknowledgement flows here (the spool is full from the start). Mosquitto 2.0.11 keeps neither bound
    once acknowledgements flow: it then sends a queued backlog whole, and overshoots with live traffic; what
    ingest holds stays bounded by its inbox (bytes), which stops reading the socket."""
    stack = private_stack
    db = stack.new_database("bound")
    inflight = {"FAULTLINE_MQTT_MAX_INFLIGHT": "200"} if protocol == "5" else {}
    settings = load_settings(env_for(stack, tmp_path, db, FAULTLINE_SPOOL_MAX_MB="1", FAULTLINE_MQTT_PROTOCOL=protocol,
                                     **inflight))
    stack.influxd.stop()
    full_spool(settings.data_dir / "spool")
    service = ingest_service(settings)
    service.start()
    client = InfluxClient(stack.influx_url, db)
    n = bound + 2_000
    try:
        assert service.subscriber.wait_connected(20)
        publisher = in_background(publish_all, stack.mqtt_url,
                                  telemetry_stream(n, 20, int(time.time() * 1000) - 3_600_000))
        wait_until(lambda: service.progress.received >= bound, 60, what=f"{bound} messages received")
        publisher.join(120)  # every message is at the broker now, which could send them all
        assert (service.progress.received, service.acked) == (bound, 0)
        stack.influxd.start()
        wait_until(lambda: stored(client) == n and service.acked == n, 120,
                   what="every message stored and acknowledged once InfluxDB is back")
        # The drainer removes a batch from the spool just after InfluxDB takes it.
        wait_until(lambda: len(service.spool) == 0, 30, what="the spool drained")
        assert client.rows('SELECT count("v") FROM "filler"')[0]["count"] == 30_000
    finally:
        service.stop()
    assert stored(client) == n


def test_sigterm_exits_0_and_the_session_keeps_queuing_while_down(stack, tmp_path):
    db = stack.new_database("graceful")
    env = env_for(stack, tmp_path, db)
    client = InfluxClient(stack.influx_url, db)
    base = int(time.time() * 1000) - 3_600_000
    msgs = list(telemetry_stream(3_000, 10, base))
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    try:
        publish_all(stack.mqtt_url, msgs[:1_000])
        wait_until(lambda: stored(client) == 1_000, 60, what="first part stored")
        assert ingest.terminate() == 0
        publish_all(stack.mqtt_url, msgs[1_000:])  # published while Faultline is stopped
        ingest.start()
        wait_until(lambda: stored(client) == 3_000, 120, what="messages published during the stop")
        assert ingest.terminate() == 0
    finally:
        ingest.stop_if_running()
    # every stored message was acknowledged (a batch's PUBACKs go out in one write): the session holds none
    assert queued_for(stack.mqtt_url, env["FAULTLINE_MQTT_CLIENT_ID"], None, idle_s=1.0) == 0


def test_mosquitto_forgets_a_shared_subscription_over_its_restart(private_stack):
    """Why `faultline ingest` runs one process by default (`ingest.pool_size`): Mosquitto 2.0.11 keeps a
    persistent session's plain subscription over its own restart, but not a shared one, so what is published
    after the restart and before the workers subscribe again reaches none of them. The day this fails, the
    broker keeps shared subscriptions too, and the default can become one worker per core."""
    url = private_stack.mqtt_url
    assert queued_for(url, "plain", "devices/#", idle_s=0.5) == 0
    assert queued_for(url, "member", "$share/g/devices/#", idle_s=0.5) == 0
    publish_all(url, telemetry_stream(100, 10, 0))  # while both sessions are away: queued for both
    private_stack.mosquitto.stop()  # graceful: persistence writes both sessions to disk
    private_stack.mosquitto.start()
    publish_all(url, telemetry_stream(100, 10, 10_000_000))  # after the restart, before they come back
    assert queued_for(url, "plain", None) == 200
    assert queued_for(url, "member", None) == 100  # the 100 published after the restart went nowhere
