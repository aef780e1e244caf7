"""`faultline ingest --workers 2` on a shared subscription (``FAULTLINE_MQTT_SHARED_GROUP``): a worker killed
with -9 under load loses nothing. (Without a group the workers are fed by one session: `test_relay`.)

Over MQTT 5 and, on SQLite, over MQTT 3.1.1.

Counting happens in InfluxDB (every (device, seq) once) and in the SQL
dead-letter store, which both workers write at the same time (each dead
letter is a row of its own): the SQLite file (WAL) and, where it answers on
127.0.0.1:5432, a PostgreSQL database. The completeness ledger is the
pool's one (`ingest.ledger_keeper`): it shows exactly the gaps the devices
left, none from the broker spreading each device's messages over the
workers, and none after a kill once the broker has delivered again.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import orjson
import pytest

from database import make_engine
from influx.client import InfluxClient
from ingest.ledger import load_entries
from support.ingest_checks import kill_a_worker_under_load
from support.processes import IngestProcess
from support.publishing import publish_all
from support.waiting import wait_until

N, DEVICES = 24_000, 100


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
    ready = f"faultline ingest: subscribed to $share/{group}/".encode()
    try:
        wait_until(lambda: log_path.read_bytes().count(ready) >= 2, 60, what="both workers subscribed")
    except AssertionError:
        pool.stop_if_running()
        raise
    kill_a_worker_under_load(stack, pool, client, log_path, database_url or f"sqlite:///{tmp_path / 'data' / 'database'}",
                             N, DEVICES)


@dataclass(frozen=True)
class Sent:
    device: str
    seqs: list[int]

    @property
    def holes(self) -> list[list[int]]:
        return [[a + 1, b - 1] for a, b in zip(self.seqs, self.seqs[1:]) if b > a + 1]


def interleaved(streams: list[Sent], base_ms: int):
    """Every stream's telemetry, one message of each device in turn (so each device's reach both workers)."""
    for i in range(max(len(s.seqs) for s in streams)):
        for stream in streams:
            if i < len(stream.seqs):
                seq = stream.seqs[i]
                yield (f"devices/{stream.device}/telemetry",
                       orjson.dumps({"ts": base_ms + seq * 1000, "seq": seq, "metrics": {"m": float(seq % 7)}}))


def test_one_ledger_over_two_workers_shows_exactly_the_gaps_devices_left(stack, tmp_path):
    db = stack.new_database("ledger")
    group = f"lg{uuid.uuid4().hex[:6]}"
    env = {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": f"ingest-{db}",
           "FAULTLINE_MQTT_SHARED_GROUP": group, "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": db,
           "FAULTLINE_DATA_DIR": str(tmp_path / "data"), "FAULTLINE_DATABASE_URL": "",
           "FAULTLINE_GAP_GRACE_S": "5", "FAULTLINE_STATS_INTERVAL_S": "0.5"}
    whole = [Sent(f"whole-{d}", list(range(1, 401))) for d in range(6)]
    holed = [Sent("holed-0", [s for s in range(1, 401) if not 100 <= s <= 104]),
             Sent("holed-1", [s for s in range(1, 401) if s not in (50, 51, 300)]),
             Sent("holed-2", [s for s in range(1, 401) if s % 97])]
    streams = whole + holed
    client = InfluxClient(stack.influx_url, db)
    log_path = tmp_path / "pool.log"
    pool = IngestProcess(env, log_path, args=("--workers", "2")).start()
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'database'}")
    try:
        ready = f"faultline ingest: subscribed to $share/{group}/".encode()
        wait_until(lambda: log_path.read_bytes().count(ready) >= 2, 60, what="both workers subscribed")
        publish_all(stack.mqtt_url, interleaved(streams, int(time.time() * 1000) - 3_600_000))
        wait_until(lambda: sum(r.received for r in load_entries(engine)) == sum(len(s.seqs) for s in streams), 120,
                   what="every message in the saved ledger")
        gaps = sum(len(s.holes) for s in holed)
        wait_until(lambda: len(client.rows('SELECT * FROM "ingest_gaps"')) >= gaps, 60, what="the gaps confirmed")
        assert pool.terminate() == 0
    finally:
        pool.stop_if_running()
    ledger = {r.device: r for r in load_entries(engine)}
    assert set(ledger) == {s.device for s in streams}
    for stream in streams:
        row = ledger[stream.device]
        assert (row.received, row.duplicates, row.resets, row.last_seq) == (len(stream.seqs), 0, 0, 400)
        assert orjson.loads(row.missing) == stream.holes, stream.device
    reported = sorted((r["device"], r["from_seq"], r["to_seq"]) for r in client.rows('SELECT * FROM "ingest_gaps"'))
    assert reported == sorted((s.device, lo, hi) for s in holed for lo, hi in s.holes)
