"""Every InfluxQL query of the dashboards, run against the real InfluxDB holding a simulated fleet.

Data: the firmware-regression scenario (30 devices, 2 hours) published by
`faultline simulate` over the real Mosquitto and stored by a real
`faultline ingest` process, plus a
few malformed messages and a sequence gap so that the ingest-health panels
have what a real deployment shows (ingest writes ``ingest_stats`` and
``ingest_gaps`` itself). Detections about the device that faulted most are
made in the test (the real detectors need more history than two hours) and
written by the real anomaly sink; the real alert stage turns them into
``alert_events`` (tests/support/fleet_points.py).

Grafana macros are substituted as Grafana would: ``$timeFilter`` with the
simulated range, ``$__interval`` with ``1m``, ``$device`` with the device that
faulted most, ``$level`` with all levels. A query returning nothing is a
failure: that panel would be empty for a technician.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from faultline.settings import load_settings
from influx.client import InfluxClient
from simulators.truth import GroundTruth
from support.fleet_points import detections, run_detection_stages
from support.processes import IngestProcess
from support.publishing import publish_all
from support.waiting import wait_until

DEVICES, DURATION, SEED = 30, "2h", 11
GAP_DEVICE = "gw10-9901"
# A topic prefix of its own: the fleet's retained meta and status stay out of
# other tests' `devices/#` subscriptions on the shared broker.
PREFIX = f"grafana-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LiveFleet:
    client: InfluxClient
    start_ms: int
    end_ms: int
    device: str
    firing: tuple[str, ...]  # alert keys the real alert stage left firing

    def substitute(self, q: str) -> str:
        q = q.replace("$timeFilter", f"time >= {self.start_ms}ms AND time <= {self.end_ms}ms")
        q = q.replace("$__interval", "1m")
        q = q.replace("$device", re.sub(r"([.\\+*?()|\[\]{}^$])", r"\\\1", self.device))
        return q.replace("$level", "(DEBUG|INFO|WARN|ERROR|FATAL)")


def _telemetry(now_ms: int, seq: int) -> bytes:
    return orjson.dumps({"ts": now_ms - 600_000 + seq * 1000, "seq": seq, "metrics": {"cpu_pct": 12.5 + seq % 7}})


def _extra_messages(now_ms: int) -> list[tuple[str, bytes]]:
    """What a real fleet also sends: a device whose seq jumps (a gap) and malformed payloads."""
    return [
        (f"{PREFIX}/{GAP_DEVICE}/telemetry", _telemetry(now_ms, 1)),
        (f"{PREFIX}/{GAP_DEVICE}/telemetry", _telemetry(now_ms, 5)),  # 2..4 never arrive
        (f"{PREFIX}/px200-0001/telemetry", b'{"ts": 1, "seq": 3, "metrics": '),  # truncated JSON
        (f"{PREFIX}/px200-0002/logs", orjson.dumps({"level": "LOUD", "msg": "?"})),  # invalid level
        (f"{PREFIX}/px200-0003/events", orjson.dumps({"type": "exploded"})),  # unknown event type
    ]


def _simulate(env: dict[str, str], truth_file) -> tuple[GroundTruth, int]:
    """`faultline simulate` as an operator runs it; returns its ground truth and the messages it published."""
    exe = str(Path(sys.executable).parent / "faultline")
    result = subprocess.run([exe, "simulate", "--scenario", "firmware-regression", "--devices", str(DEVICES),
                             "--duration", DURATION, "--speed", "0", "--seed", str(SEED), "--truth", str(truth_file),
                             "--topic-prefix", PREFIX,
                             "--quiet"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    sent = int(re.search(r"([\d,]+) messages from", result.stdout).group(1).replace(",", ""))
    return GroundTruth.from_json(truth_file.read_text()), sent


def _stats(client: InfluxClient) -> dict[str, float]:
    rows = client.rows('SELECT sum("messages") AS "n" FROM "ingest_stats" GROUP BY "stage"')
    return {r["stage"]: r["n"] for r in rows}


@pytest.fixture(scope="module")
def live(stack, tmp_path_factory) -> LiveFleet:
    db = stack.new_database("grafana")
    work = tmp_path_factory.mktemp("grafana-live")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FAULTLINE_")}
    env.update(FAULTLINE_MQTT_URL=stack.mqtt_url, FAULTLINE_MQTT_CLIENT_ID=f"grafana-live-{uuid.uuid4().hex[:8]}",
               FAULTLINE_INFLUX_URL=stack.influx_url, FAULTLINE_INFLUX_DB=db, FAULTLINE_DATA_DIR=str(work / "data"),
               FAULTLINE_MQTT_TOPIC_PREFIX=PREFIX, FAULTLINE_GAP_GRACE_S="2", FAULTLINE_STATS_INTERVAL_S="1")
    client = InfluxClient(stack.influx_url, db)
    ingest = IngestProcess(env, work / "ingest.log").start()
    try:
        now_ms = int(time.time() * 1000)
        extra = _extra_messages(now_ms)
        publish_all(stack.mqtt_url, extra[:2])  # opens the gap first: confirmed after the (shortened) grace
        sim, sent = _simulate(env, work / "truth.json")
        publish_all(stack.mqtt_url, extra[2:])
        # Ingest writes its counters and confirmed gaps with the batches of
        # incoming messages, so the gap device keeps reporting, as devices do.
        heartbeat = iter(range(6, 10_000))

        def stored_and_counted() -> bool:
            publish_all(stack.mqtt_url, [(f"{PREFIX}/{GAP_DEVICE}/telemetry", _telemetry(now_ms, next(heartbeat)))])
            stats = _stats(client)
            return stats.get("stored", 0) >= sent + 2 and len(stats) >= 2 \
                and bool(client.rows('SELECT count("missing") FROM "ingest_gaps"'))

        wait_until(stored_and_counted, timeout=240, interval=1.0,
                   what="ingest to store the fleet, count dead letters and confirm the sequence gap")
    finally:
        assert ingest.terminate() == 0
    end_ms = int(time.time() * 1000) + 60_000  # ingest counters and gaps are stamped at wall-clock time
    faults = client.rows('SELECT count("code") AS "n" FROM "device_events" WHERE "type" = \'fault\' GROUP BY "device"')
    assert faults, "the scenario produced no fault events"
    top = max(faults, key=lambda r: r["n"])["device"]
    (meta,) = client.rows('SELECT last("seq"), "model", "firmware", "site" FROM "telemetry" WHERE "device" = $d', {"d": top})
    found = detections(top, meta["model"], meta["firmware"], meta["site"], sim.start_ms, sim.end_ms)
    firing = run_detection_stages(found, load_settings(env), client, sim.end_ms)
    yield LiveFleet(client, sim.start_ms, end_ms, top, tuple(firing))
    client.close()


def _has_data(series) -> bool:
    for s in series:
        for row in s.values:
            if any(v is not None for col, v in zip(s.columns, row) if col != "time"):
                return True
    return False


def test_dashboard_query_returns_data(live, dashboard_query):
    q = live.substitute(dashboard_query.text)
    series = live.client.query(q)
    assert _has_data(series), f"{dashboard_query.where} would show no data:\n{q}"


def test_device_variable_lists_the_fleet(live):
    rows = live.client.rows('SHOW TAG VALUES FROM "telemetry" WITH KEY = "device"')
    devices = {r["value"] for r in rows}
    assert live.device in devices and len(devices) >= DEVICES


def test_active_alerts_panel_shows_only_firing_alerts(live):
    q = live.substitute('SELECT "alert", "state" FROM (SELECT last("text") AS "text", "state" FROM "alert_events" '
                        'WHERE $timeFilter GROUP BY "alert") WHERE "state" = \'firing\'')
    alerts = sorted(r["alert"] for r in live.client.rows(q))
    assert alerts == list(live.firing)
    assert f"device_fault_rate|device|{live.device}|E214" in alerts
    assert not any(a.startswith("telemetry|") for a in alerts)  # that episode fired, then resolved


def test_device_annotations_show_firing_and_resolved(live):
    q = live.substitute('SELECT "text", "state" FROM "alert_events" WHERE "subject" =~ /^$device$/ AND $timeFilter')
    states = {(r["state"], r["text"].split(":")[0]) for r in live.client.rows(q)}
    assert ("firing", "fired") in {(s, t.split(" ")[0]) for s, t in states}
    assert any(s == "resolved" for s, _ in states)


def test_dead_letters_are_counted_by_stage_and_reason(live):
    rows = live.client.rows(live.substitute(
        'SELECT sum("messages") AS "n" FROM "ingest_stats" WHERE "stage" != \'stored\' AND $timeFilter GROUP BY "stage", "reason"'))
    assert sum(r["n"] for r in rows) >= 3  # the three malformed messages (the scenario itself sends none)
    assert {"decode", "validate"} & {r["stage"] for r in rows}
    assert all(r["reason"] for r in rows)


def test_gap_panel_reports_the_missing_messages(live):
    rows = live.client.rows(live.substitute(
        'SELECT sum("missing") AS "missing" FROM "ingest_gaps" WHERE $timeFilter GROUP BY "device", "topic"'))
    assert [(r["device"], r["topic"], r["missing"]) for r in rows] == [(GAP_DEVICE, "telemetry", 3)]
