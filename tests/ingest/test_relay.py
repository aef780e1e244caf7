"""`faultline ingest --workers 2` fed by one session (`ingest.relay`): nothing lost, nothing stored twice.

A worker killed with -9 under load: its unacknowledged messages go to the
other worker, every message is stored once per (device, seq) and every bad
one dead-lettered, the pool's one ledger shows no gap. The broker restarted
while the relay is away: what was published after the restart is delivered
(a shared subscription loses it, `test_durability`). The spool one process
left behind is drained; a spool is used by one process at a time.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from influx.client import InfluxClient
from ingest.batch import SpooledBatch
from ingest.spool import Spool
from support.ingest_checks import children, kill_a_worker_under_load, per_device, queued_for, stored
from support.processes import IngestProcess
from support.publishing import publish_all, telemetry_stream
from support.waiting import wait_until

N, DEVICES = 24_000, 100


def relay_env(stack, tmp_path, db: str, **extra) -> dict[str, str]:
    return {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_MQTT_CLIENT_ID": f"ingest-{db}",
            "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": db,
            "FAULTLINE_DATA_DIR": str(tmp_path / "data"), "FAULTLINE_MQTT_SHARED_GROUP": "", **extra}


def start_relay(env, log_path: Path, workers: int = 2) -> IngestProcess:
    relay = IngestProcess(env, log_path, args=("--workers", str(workers))).start()
    said = f"{workers} workers behind it".encode()
    try:
        wait_until(lambda: log_path.read_bytes().count(b"fed by the relay") >= workers
                   and said in log_path.read_bytes(), 60, what="the relay subscribed and its workers started")
    except AssertionError:
        relay.stop_if_running()
        raise
    return relay


@pytest.mark.parametrize("database, protocol", [("sqlite", "5"), ("postgresql", "5"), ("sqlite", "3.1.1")])
def test_kill_9_of_one_worker_loses_nothing_and_adds_no_duplicate(stack, tmp_path, database_url, protocol):
    db = stack.new_database("relay")
    env = relay_env(stack, tmp_path, db, FAULTLINE_DATABASE_URL=database_url, FAULTLINE_MQTT_PROTOCOL=protocol)
    client = InfluxClient(stack.influx_url, db)
    log_path = tmp_path / "relay.log"
    relay = start_relay(env, log_path)
    kill_a_worker_under_load(stack, relay, client, log_path, database_url or f"sqlite:///{tmp_path / 'data' / 'database'}",
                             N, DEVICES, said=b"worker 1 is gone")
    if protocol == "5":  # everything stored was acknowledged: the session holds nothing more
        assert queued_for(stack.mqtt_url, f"ingest-{db}", None, idle_s=1.0) == 0


def test_kill_9_of_the_relay_loses_nothing(private_stack, tmp_path):
    """The relay's own session holds what no worker made durable; its workers end with it."""
    stack = private_stack
    n = 30_000
    db = stack.new_database("relaykill")
    env = relay_env(stack, tmp_path, db)
    client = InfluxClient(stack.influx_url, db)
    log_path = tmp_path / "relay.log"
    relay = start_relay(env, log_path)
    workers = children(relay.proc.pid)
    try:
        publisher = threading.Thread(target=publish_all, daemon=True, args=(
            stack.mqtt_url, telemetry_stream(n, DEVICES, int(time.time() * 1000) - 3_600_000)))
        publisher.start()
        wait_until(lambda: stored(client) >= 5_000, 120, what="5,000 stored before the kill")
        relay.kill()
        assert stored(client) < n, "the kill must land mid-stream"
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 60,
                   what="the workers ended with their relay")
        relay = start_relay(env, log_path)
        publisher.join(300)
        wait_until(lambda: stored(client) == n, 300, what=f"all {n} stored after the restart")
        assert per_device(client) == {f"dev-{d:04d}": n // DEVICES for d in range(DEVICES)}
        assert relay.terminate() == 0
    finally:
        relay.stop_if_running()
    assert stored(client) == n


def test_what_is_published_after_a_broker_restart_reaches_the_relay(private_stack, tmp_path):
    """The relay's session is a plain subscription, which Mosquitto keeps over its restart (a shared one it
    forgets): messages published after the restart, while the relay is away and while it reconnects, are
    all stored."""
    stack = private_stack
    db = stack.new_database("relayrestart")
    env = relay_env(stack, tmp_path, db)
    client = InfluxClient(stack.influx_url, db)
    stream = list(telemetry_stream(3_000, 30, int(time.time() * 1000) - 3_600_000))
    relay = start_relay(env, tmp_path / "relay.log")
    try:
        publish_all(stack.mqtt_url, stream[:1_000])
        wait_until(lambda: stored(client) == 1_000, 120, what="the first 1,000 stored")
        assert relay.terminate() == 0
        stack.mosquitto.stop()  # graceful: persistence writes the session to disk
        stack.mosquitto.start()
        publish_all(stack.mqtt_url, stream[1_000:2_000])  # the relay is away
        relay = start_relay(env, tmp_path / "relay.log")
        wait_until(lambda: stored(client) == 2_000, 120, what="what was published while the relay was away")
        stack.mosquitto.stop()
        stack.mosquitto.start()
        publish_all(stack.mqtt_url, stream[2_000:])  # the relay is reconnecting
        wait_until(lambda: stored(client) == 3_000, 120, what="what was published while the relay reconnected")
        assert relay.terminate() == 0
    finally:
        relay.stop_if_running()


def test_the_spool_one_process_left_is_drained(stack, tmp_path):
    """Batches one `faultline ingest` acknowledged into its spool while InfluxDB was down are written by the
    relay that runs in its place (its workers have spools of their own)."""
    db = stack.new_database("leftover")
    env = relay_env(stack, tmp_path, db)
    lines = [f"telemetry,device=left-{i % 3} seq={i}i,m=1.5 {1_700_000_000_000_000_000 + i * 1_000_000_000}"
             for i in range(500)]
    spool = Spool(tmp_path / "data" / "spool", 1_048_576)
    spool.append(SpooledBatch(lines, []))
    spool.close()
    client = InfluxClient(stack.influx_url, db)
    relay = start_relay(env, tmp_path / "relay.log")
    try:
        wait_until(lambda: stored(client) == 500, 60, what="the leftover spool written")
        wait_until(lambda: not list((tmp_path / "data" / "spool").glob("*.batch")), 30, what="the spool emptied")
        assert relay.terminate() == 0
    finally:
        relay.stop_if_running()


def test_a_spool_is_used_by_one_process_at_a_time(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from ingest.spool import Spool; s = Spool(sys.argv[1], 1 << 20); print('held', flush=True);"
        " time.sleep(2)"), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        opened = threading.Event()
        threading.Thread(target=lambda: (Spool(tmp_path, 1 << 20), opened.set()), daemon=True).start()
        assert not opened.wait(0.5), "opened while another process holds the spool"
        assert holder.wait(30) == 0
        assert opened.wait(30), "still waiting after the other process ended"
    finally:
        if holder.poll() is None:
            holder.kill()
    assert len(Spool(tmp_path, 1 << 20)) == 0  # and this process may open it again
