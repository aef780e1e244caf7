"""`faultline ingest --workers 2`: one shared subscription, a worker killed with -9 under load loses nothing.

Over MQTT 5 and, on SQLite, over MQTT 3.1.1.

Counting happens in InfluxDB (every (device, seq) once) and in the SQL
dead-letter store, which both workers write at the same time: the SQLite
file (WAL) and, where it answers on 127.0.0.1:5432, a PostgreSQL database.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from pathlib import Path

import pytest

from database import make_engine
from influx.client import InfluxClient
from ingest import deadletters
from ingest.ledger import load_entries
from support.postgres import postgres_database
from support.processes import IngestProcess
from support.publishing import publish_all, telemetry_stream
from support.waiting import wait_until

N, DEVICES, BAD_EVERY = 24_000, 100, 200


@pytest.fixture
def database_url(database):
    """"" for the default SQLite file in the data dir, or a throwaway PostgreSQL database."""
    if database == "sqlite":
        yield ""
        return
    with postgres_database("faultline_workers") as url:
        yield url


def stored(client: InfluxClient) -> int:
    rows = client.rows('SELECT count("seq") FROM "telemetry"')
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


@pytest.mark.parametrize("database, protocol", [
    ("sqlite", "5"), ("postgresql", "5"),
    ("sqlite", "3.1.1"),  # Mosquitto takes $share/<group>/... from MQTT 3.1.1 clients too
])
def test_kill_9_of_one_worker_loses_nothing_and_adds_no_duplicate(stack, tmp_path, database_url, protocol):
    db = stack.new_database("workers")
    # A group of its own: the broker spreads a group's messages over its sessions, offline ones too.
    group = f"wk{uuid.uuid4().hex[:6]}"
    env = {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": f"ingest-{db}",
           "FAULTLINE_MQTT_SHARED_GROUP": group, "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": db,
           "FAULTLINE_DATA_DIR": str(tmp_path / "data"), "FAULTLINE_DATABASE_URL": database_url,
           "FAULTLINE_MQTT_PROTOCOL": protocol}
    client = InfluxClient(stack.influx_url, db)
    log_path = tmp_path / "pool.log"
    pool = IngestProcess(env, log_path, args=("--workers", "2")).start()
    workers: list[int] = []
    try:
        ready = f"faultline ingest: subscribed to $share/{group}/".encode()
        wait_until(lambda: log_path.read_bytes().count(ready) >= 2, 60,
                   what="both workers subscribed")
        workers = children(pool.proc.pid)
        assert len(workers) == 2
        publisher = threading.Thread(target=publish_all, daemon=True, args=(
            stack.mqtt_url, stream_with_bad(N, DEVICES, int(time.time() * 1000) - 3_600_000)))
        publisher.start()
        wait_until(lambda: stored(client) >= 5_000, 120, what="5,000 stored before the kill")
        os.kill(workers[0], signal.SIGKILL)
        assert stored(client) < N, "the kill must land mid-stream"
        wait_until(lambda: b"ingest worker 1 started" in log_path.read_bytes().split(b"ended with signal 9")[-1],
                   60, what="the killed worker restarted")
        publisher.join(300)
        wait_until(lambda: stored(client) == N, 300, what=f"all {N} stored")
        assert per_device(client) == {f"dev-{d:04d}": N // DEVICES for d in range(DEVICES)}
        engine = make_engine(database_url or f"sqlite:///{tmp_path / 'data' / 'database'}")
        expected = list(range(0, N, BAD_EVERY))
        wait_until(lambda: len(bad_payloads(engine)) == len(expected), 60, what="every bad message dead-lettered")
        assert pool.terminate() == 0
        assert sorted(bad_payloads(engine)) == expected
        assert load_entries(engine) == []  # each worker sees part of a device's seqs: no false gaps recorded
    finally:
        pool.stop_if_running()
        for pid in workers:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
    assert stored(client) == N
