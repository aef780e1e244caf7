"""Scaled out: two `faultline ingest` replicas on an MQTT 5 shared subscription, and
`faultline detect` as its own process driving alerts and tickets on the shared SQL database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from database import make_engine
from influx.client import InfluxClient
from support.incidents import expected_records, messages_of, settled, stored_count
from support.processes import IngestProcess
from support.publishing import publish_all, telemetry_stream
from support.waiting import wait_until
from tickets.store import list_tickets


def test_two_replicas_share_the_stream_and_store_everything_once(stack, settings_env, tmp_path):
    prefix = f"sh{uuid.uuid4().hex[:8]}/devices"
    env = {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix, "FAULTLINE_MQTT_SHARED_GROUP": "faultline"}
    replicas = [IngestProcess({**env, "FAULTLINE_MQTT_CLIENT_ID": f"ingest-{i}",
                               "FAULTLINE_DATA_DIR": str(tmp_path / f"data-{i}")}, tmp_path / f"ingest-{i}.log").start()
                for i in range(2)]
    client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
    n = 6_000
    try:
        msgs = [(prefix + t[len("devices"):], p) for t, p in telemetry_stream(n, 60, int(time.time() * 1000) - 3_600_000)]
        publish_all(stack.mqtt_url, msgs)
        wait_until(lambda: (client.rows('SELECT count("seq") FROM "telemetry"') or [{"count": 0}])[0]["count"] == n,
                   120, what="every message stored once")
        for replica in replicas:
            assert replica.terminate() == 0
    finally:
        for replica in replicas:
            replica.stop_if_running()
    received = []
    for i in range(2):
        ledger = subprocess.run([str(Path(sys.executable).parent / "faultline"), "ledger", "--format", "json"],
                                env={**os.environ, **env, "FAULTLINE_DATA_DIR": str(tmp_path / f"data-{i}")},
                                capture_output=True, text=True, check=True)
        import json
        received.append(sum(e["received"] for e in json.loads(ledger.stdout)))
    assert sum(received) >= n and all(r > 0 for r in received), received  # both replicas took a share


def test_ingest_and_detect_as_separate_processes_open_one_ticket(stack, settings_env, tmp_path):
    prefix = f"so{uuid.uuid4().hex[:8]}/devices"
    env = {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix, "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": f"detect-{prefix[:10]}"}
    msgs, truth = messages_of("firmware-regression", 100, 0, prefix)
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    detect_log = open(tmp_path / "detect.log", "wb")
    detect = subprocess.Popen([str(Path(sys.executable).parent / "faultline"), "detect"], env={**os.environ, **env},
                              stdout=detect_log, stderr=subprocess.STDOUT, start_new_session=True)
    engine = make_engine(f"sqlite:///{env['FAULTLINE_DATA_DIR']}/database")
    try:
        wait_until(lambda: b"subscribed" in (tmp_path / "detect.log").read_bytes() or detect.poll() is not None,
                   60, what="detect subscribed")
        assert detect.poll() is None, (tmp_path / "detect.log").read_text()[-2000:]
        publish_all(stack.mqtt_url, msgs)
        client = InfluxClient(stack.influx_url, env["FAULTLINE_INFLUX_DB"])
        wait_until(lambda: stored_count(client) >= expected_records(msgs), 120, what="every record stored")
        wait_until(lambda: list_tickets(engine), 120, what="a ticket from the detect process")
        settled(engine)
        tickets = list_tickets(engine)
    finally:
        detect.terminate()
        detect.wait(60)
        detect_log.close()
        ingest.stop_if_running()
    assert len(tickets) == 1 and "firmware=2.1.0" in tickets[0].subject
    assert set(tickets[0].devices) <= set(truth.incidents[0].affected_devices)
