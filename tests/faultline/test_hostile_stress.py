"""A mixed hostile stream against `faultline run` as a real process, on its own Mosquitto and InfluxDB,
for a bounded time: malformed payloads, oversized payloads, metric-name bombs, huge ``seq`` values,
retained faults, and a QoS 0 flood while InfluxDB is frozen -- alongside good devices at QoS 1.

Then: every good message is stored (0 lost), the process's peak RSS stayed within the bound the
README documents, InfluxDB holds no more field keys than the per-device cap allows, no thread died
(``/ready`` answers 200 with every check ok, and the log has no dead thread).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import urllib.request
import uuid

import orjson
import pytest

from faultline.settings import Settings
from faultline.stack import free_port
from influx.client import InfluxClient
from support.processes import ServiceProcess
from support.publishing import publish_all
from support.waiting import wait_until

SECONDS = 12  # length of the hostile stream
FREEZE = (2, 8)  # InfluxDB frozen from 2 s to 8 s into it
GOOD_DEVICES, GOOD_METRICS = 20, 4
BOMB_DEVICES, CAP = 5, 30
OVERSIZED = 700_000  # over the 256 KiB payload limit, under the broker's 1 MiB packet limit
MB = 1_048_576


def rss_bound_mb() -> float:
    """The README's bound for the RSS the stream may add: twice the payload ingest may hold
    (inbox + 4 batches: 64 MB with the defaults). Without the byte bounds this stream added 158 MB."""
    s = Settings()
    return 2 * (s.inbox_max_mb + 4 * s.batch_max_mb)


def until(deadline: float, items):
    """The items drawn before `deadline` (none drawn after it, so a stream's own tally stays exact)."""
    items = iter(items)
    while time.monotonic() < deadline:
        yield next(items)


def good_stream(prefix: str, sent: dict):
    base = int(time.time() * 1000) - 600_000
    for seq in range(1, 10**9):
        for d in range(GOOD_DEVICES):
            sent[f"good-{d}"] = seq
            metrics = {f"m{k}": float((seq * 7 + k) % 50) for k in range(GOOD_METRICS)}
            yield f"{prefix}/good-{d}/telemetry", orjson.dumps({"ts": base + seq * 100, "seq": seq, "metrics": metrics})
        time.sleep(0.02)


def hostile_stream(prefix: str):
    rng = random.Random(7)
    for i in range(10**9):
        pick = i % 6
        if pick == 0:
            yield f"{prefix}/junk-{i % 50}/logs", rng.randbytes(rng.randint(1, 300))
        elif pick == 1:
            yield f"{prefix}/bomb-{i % BOMB_DEVICES}/telemetry", orjson.dumps(
                {"seq": i, "metrics": {f"k{i}_{n}": 1.0 for n in range(40)}})
        elif pick == 2:
            yield f"{prefix}/seq-{i % 10}/telemetry", orjson.dumps(
                {"seq": rng.choice([0, 1, 2**63 - 1, rng.randrange(2**63)]), "metrics": {"v": 1.0}})
        elif pick == 3:
            yield f"{prefix}/meta-{i % 10}/meta", orjson.dumps({"model": "PX", "firmware": rng.choice(["1\\", "a\nb", "2.0"])})
        elif pick == 4:
            yield f"{prefix}/dev {i}/telemetry", b"{}"
        else:
            yield f"{prefix}/deep-{i % 5}/events", b"[" * 5000 + b"]" * 5000


def oversized_stream(prefix: str):
    for i in range(10**9):
        yield f"{prefix}/big-{i % 3}/telemetry", b'{"metrics": {"a": 1}, "pad": "' + b"x" * OVERSIZED + b'"}'


def qos0_flood(prefix: str):
    for i in range(10**9):
        yield f"{prefix}/flood-{i % 100}/telemetry", orjson.dumps({"seq": i, "metrics": {"f": float(i % 9)}})


def retained_faults(prefix: str):
    for d in range(200):
        yield (f"{prefix}/ret-{d}/events", orjson.dumps({"type": "fault", "code": "E1", "severity": "minor"}), True)


def peak_rss_mb(pid: int) -> tuple[float, float]:
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def ready(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())
    except OSError:  # not listening yet
        return 0, {}


@pytest.mark.timeout(180)
def test_mixed_hostile_stream_loses_no_good_message_and_stays_bounded(private_stack, tmp_path):
    stack, prefix, port = private_stack, f"st{uuid.uuid4().hex[:6]}/devices", free_port()
    db = stack.new_database("stress")
    env = {"FAULTLINE_MQTT_URL": stack.mqtt_url, "FAULTLINE_INFLUX_URL": stack.influx_url, "FAULTLINE_INFLUX_DB": db,
           "FAULTLINE_DATA_DIR": str(tmp_path / "data"), "FAULTLINE_MQTT_TOPIC_PREFIX": prefix,
           "FAULTLINE_API_PORT": str(port), "FAULTLINE_MAX_METRICS_PER_DEVICE": str(CAP),
           "FAULTLINE_READY_CACHE_S": "0"}
    service = ServiceProcess(env, tmp_path / "run.log").start()
    influxd = stack.influxd.pid()
    try:
        wait_until(lambda: ready(port)[0] == 200, 30, what="ready before the stream")
        baseline, _ = peak_rss_mb(service.proc.pid)
        sent: dict[str, int] = {}
        start = time.monotonic()
        end = start + SECONDS
        streams = [
            lambda: publish_all(stack.mqtt_url, until(end, good_stream(prefix, sent))),
            lambda: publish_all(stack.mqtt_url, until(end, hostile_stream(prefix))),
            lambda: publish_all(stack.mqtt_url, until(end, oversized_stream(prefix)), max_inflight=4),
            lambda: publish_all(stack.mqtt_url, until(end, qos0_flood(prefix)), qos=0),
            lambda: publish_all(stack.mqtt_url, retained_faults(prefix)),
        ]
        threads = [threading.Thread(target=s, daemon=True) for s in streams]
        for t in threads:
            t.start()
        wait_until(lambda: time.monotonic() >= start + FREEZE[0], 10, interval=0.05, what="freeze time")
        os.kill(influxd, signal.SIGSTOP)
        wait_until(lambda: time.monotonic() >= start + FREEZE[1], 15, interval=0.05, what="thaw time")
        os.kill(influxd, signal.SIGCONT)
        for t in threads:
            t.join(60)
        client = InfluxClient(stack.influx_url, db)
        try:
            wait_until(lambda: stored_per_device(client) == sent, 90, what="every good message stored")
        except AssertionError:
            print("sent", sent, "stored", stored_per_device(client))
            raise
        _, peak = peak_rss_mb(service.proc.pid)
        # /ready asks InfluxDB, which may still be busy with the backlog of the freeze: asked until it answers
        wait_until(lambda: ready(port)[0] != 0, 30, what="/ready answering")
        status, body = ready(port)
        keys = client.rows('SHOW FIELD KEYS FROM "telemetry"')
        assert service.terminate() == 0
    finally:
        os.kill(influxd, signal.SIGCONT)
        service.stop_if_running()
    assert sum(sent.values()) >= GOOD_DEVICES * 50  # a real stream, not a trickle
    added = peak - baseline
    print(f"baseline {baseline:.0f} MB, peak {peak:.0f} MB (+{added:.0f} MB, bound {rss_bound_mb():.0f} MB)")
    assert added <= rss_bound_mb(), f"ingest grew by {added:.0f} MB, over the documented {rss_bound_mb():.0f} MB"
    field_keys = {row["fieldKey"] for row in keys}
    assert len(field_keys) <= GOOD_METRICS + 1 + BOMB_DEVICES * CAP + 2, len(field_keys)
    assert status == 200 and set(body["checks"].values()) == {"ok"}, body
    log = (tmp_path / "run.log").read_text()
    assert "died" not in log and "ended while" not in log


def stored_per_device(client: InfluxClient) -> dict[str, int]:
    rows = client.rows('SELECT count("seq") FROM "telemetry" WHERE "device" =~ /^good-/ GROUP BY "device"')
    return {r["device"]: r["count"] for r in rows}
