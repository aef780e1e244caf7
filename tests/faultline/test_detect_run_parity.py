"""`faultline detect` and `faultline run` read device messages alike: the same decode limits and settings.

Both run as real processes on the shared Mosquitto and InfluxDB, each with its own data dir, under settings
that are not the defaults: a clock-skew allowance of an hour, a maximum age of one day, a payload limit of
2 KiB. One device sends a log line dated 30 minutes ahead (within the allowance: its time is kept), one a log
line dated three days back (past the maximum age: stored at its receipt time), one a payload over the limit
(rejected). What each process's detectors saw is read from its checkpoint on disk.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from detectors.engine import DetectorEngine, EngineConfig
from support.processes import IngestProcess, ServiceProcess
from support.publishing import publish_all
from support.waiting import wait_until

MINUTE_MS = 60_000
DAY_MS = 86_400_000


class DetectProcess(IngestProcess):
    """`faultline detect` as a real child process."""

    command, ready = "detect", b"subscribed to"


def _last_seen(state: Path) -> dict[str, int]:
    """Each device's newest event time in a detector checkpoint."""
    engine = DetectorEngine(EngineConfig())
    if not engine.restore(state):
        return {}
    return {device: st.last_seen_ms for device, st in engine.devices.items()}


def test_detect_and_run_apply_the_same_clock_skew_maximum_age_and_payload_limit(stack, settings_env, tmp_path):
    prefix = f"parity{uuid.uuid4().hex[:6]}/devices"
    common = {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix, "FAULTLINE_MAX_CLOCK_SKEW_S": "3600",
              "FAULTLINE_MAX_AGE_DAYS": "1", "FAULTLINE_MAX_PAYLOAD_BYTES": "2048",
              "FAULTLINE_DETECTOR_CHECKPOINT_S": "1"}
    run_env = {**common, "FAULTLINE_DATA_DIR": str(tmp_path / "run")}
    detect_env = {**common, "FAULTLINE_DATA_DIR": str(tmp_path / "detect"),
                  "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": f"parity-detect-{uuid.uuid4().hex[:8]}"}
    states = {"run": tmp_path / "run" / "detectors" / "state-0-of-1.pkl",
              "detect": tmp_path / "detect" / "detectors" / "state-0-of-1.pkl"}
    run = ServiceProcess(run_env, tmp_path / "run.log", args=("--no-api",)).start()
    try:
        detect = DetectProcess(detect_env, tmp_path / "detect.log").start()
        try:
            now_ms = int(time.time() * 1000)
            ahead_ms, old_ms = now_ms + 30 * MINUTE_MS, now_ms - 3 * DAY_MS

            def log_line(ts_ms: int, text: str = "x") -> bytes:
                return json.dumps({"ts": ts_ms, "level": "ERROR", "code": "E1", "msg": text}).encode()

            publish_all(stack.mqtt_url, [(f"{prefix}/ahead/logs", log_line(ahead_ms)),
                                         (f"{prefix}/old/logs", log_line(old_ms)),
                                         (f"{prefix}/big/logs", log_line(now_ms, "y" * 3000))])
            for name, state in states.items():
                wait_until(lambda: {"ahead", "old"} <= set(_last_seen(state)), 60,
                           what=f"faultline {name} checkpointed both devices")
        finally:
            assert detect.terminate() == 0, (tmp_path / "detect.log").read_text()[-3000:]
    finally:
        assert run.terminate() == 0, (tmp_path / "run.log").read_text()[-3000:]
    seen = {name: _last_seen(state) for name, state in states.items()}
    for name, devices in seen.items():
        assert devices["ahead"] == ahead_ms, f"faultline {name}: a time within the skew allowance is kept"
        assert now_ms <= devices["old"] <= now_ms + 2 * MINUTE_MS, f"faultline {name}: too old, stored at receipt"
        assert "big" not in devices, f"faultline {name}: a payload over the limit is rejected"
    assert abs(seen["run"]["old"] - seen["detect"]["old"]) < 2 * MINUTE_MS
