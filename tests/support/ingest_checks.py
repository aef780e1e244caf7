"""What the ingest tests count: points in InfluxDB, dead letters, the workers of a pool, a session's queue."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from database import make_engine
from influx.client import InfluxClient
from ingest import deadletters
from ingest.ledger import load_entries
from support.publishing import publish_all, telemetry_stream
from support.waiting import wait_until

BAD_EVERY = 200


def stored(client: InfluxClient) -> int:
    try:
        rows = client.rows('SELECT count("seq") FROM "telemetry"')
    except Exception:  # noqa: BLE001 - InfluxDB may be down in the outage test
        return -1
    return rows[0]["count"] if rows else 0


def per_device(client: InfluxClient) -> dict[str, int]:
    rows = client.rows('SELECT count("seq") FROM "telemetry" GROUP BY "device"')
    return {r["device"]: r["count"] for r in rows}


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def stream_with_bad(n: int, devices: int, base_ms: int):
    """The telemetry stream with a message that is not JSON after every `BAD_EVERY` good ones."""
    for i, message in enumerate(telemetry_stream(n, devices, base_ms)):
        yield message
        if i % BAD_EVERY == 0:
            yield f"devices/bad-{i // BAD_EVERY % 7}/telemetry", b"{not json " + str(i).encode()


def bad_payloads(engine) -> set[int]:
    """The distinct bad messages in the dead-letter store (one redelivered after the kill may be kept twice)."""
    rows = deadletters.query(engine, limit=100_000)
    assert {r.reason_kind for r in rows} <= {"json"}
    return {int(r.payload.split()[-1]) for r in rows}


def queued_for(url: str, client_id: str, topic: str | None, idle_s: float = 3.0) -> int:
    """Connect a persistent MQTT 5 session (subscribing to `topic`, or, with None, only resuming it), count what
    the broker sends until it is idle for `idle_s`, acknowledge it, disconnect."""
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    host, port = url.removeprefix("mqtt://").split(":")
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFE
    got = {"n": 0, "last": time.monotonic()}
    subscribed = threading.Event()

    def on_message(*_):
        got["n"] += 1
        got["last"] = time.monotonic()

    client.on_message = on_message
    client.on_subscribe = lambda *_: subscribed.set()
    client.connect(host, int(port), clean_start=False, properties=props)
    client.loop_start()
    if topic is not None:
        client.subscribe(topic, qos=1)
        assert subscribed.wait(20)
    while time.monotonic() - got["last"] < idle_s:
        time.sleep(0.1)
    client.disconnect()
    client.loop_stop()
    return got["n"]




def kill_a_worker_under_load(stack, process, client: InfluxClient, log_path: Path, engine_url: str, n: int,
                             devices: int, said: bytes = b"") -> None:
    """kill -9 of the first of the two workers of `process` (`support.processes.IngestProcess`) while `n`
    telemetry messages of `devices` devices and a bad one every `BAD_EVERY` are published: every message is
    stored once, every bad one dead-lettered, the one ledger shows no gap, the log `said` it; `process` then
    stops with exit code 0."""
    workers: list[int] = []
    try:
        workers = children(process.proc.pid)
        assert len(workers) == 2
        publisher = threading.Thread(target=publish_all, daemon=True, args=(
            stack.mqtt_url, stream_with_bad(n, devices, int(time.time() * 1000) - 3_600_000)))
        publisher.start()
        wait_until(lambda: stored(client) >= 5_000, 120, what="5,000 stored before the kill")
        os.kill(workers[0], signal.SIGKILL)
        assert stored(client) < n, "the kill must land mid-stream"
        wait_until(lambda: b"ingest worker 1 started" in log_path.read_bytes().split(b"ended with signal 9")[-1],
                   60, what="the killed worker restarted")
        publisher.join(300)
        wait_until(lambda: stored(client) == n, 300, what=f"all {n} stored")
        assert per_device(client) == {f"dev-{d:04d}": n // devices for d in range(devices)}
        assert said in log_path.read_bytes()
        engine = make_engine(engine_url)
        expected = list(range(0, n, BAD_EVERY))
        wait_until(lambda: len(bad_payloads(engine)) == len(expected), 60, what="every bad message dead-lettered")
        assert process.terminate() == 0
        assert sorted(bad_payloads(engine)) == expected
        ledger = {r.device: r for r in load_entries(engine)}
        assert set(ledger) == {f"dev-{d:04d}" for d in range(devices)}
        for row in ledger.values():  # a reading fed to the ledger but not acknowledged before the kill: a duplicate
            assert (row.topic, row.missing, row.last_seq) == ("telemetry", "[]", n // devices), row.device
            assert row.received - row.duplicates == n // devices, row
        assert not client.rows('SELECT count("missing") FROM "ingest_gaps"')
    finally:
        process.stop_if_running()
        for pid in workers:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
    assert stored(client) == n
