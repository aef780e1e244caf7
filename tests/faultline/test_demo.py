"""`faultline demo` is isolated and repeatable: five runs in a row, whatever was published in between.

Each run is the real command in a project folder of its own (relative data
dir, as by default) against its local stack. Between runs the broker gets
what a user's experiments leave behind: garbage on the device topics and on
the demo's own, retained garbage, a persistent session under the demo's
client id that queues everything (what made an earlier demo replay old
messages), and another simulation under both prefixes. Telemetry is left out
of the demo's scenario to keep each run short (the full demo runs in CI).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from faultline.stack import LocalStack, free_port
from support.processes import faultline_cli
from support.publishing import publish_all


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / ".env").write_text(f"FAULTLINE_DATA_DIR=.faultline\nFAULTLINE_API_PORT={free_port()}\n")
    up = faultline_cli(["stack", "up", "--mqtt-port", str(free_port()), "--influx-port", str(free_port())], cwd=root)
    assert up.returncode == 0, up.stderr
    yield root
    LocalStack(root / ".faultline").down()


def _leave_a_persistent_session(url: str) -> None:
    """What an earlier demo left: a session under the demo's client id that never expires."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="faultline-demo", protocol=paho.MQTTv5)
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 0xFFFFFFFF
    port = int(url.rsplit(":", 1)[1])
    client.connect("127.0.0.1", port, clean_start=False, properties=props)
    client.loop_start()
    client.subscribe([("devices/#", 1), ("demo/devices/#", 1)])
    time.sleep(0.5)  # the SUBACK; nothing measured depends on it
    client.disconnect()
    client.loop_stop()


def _contaminate(url: str, run: int, root: Path) -> None:
    _leave_a_persistent_session(url)
    now_ms = int(time.time() * 1000)
    fresh_fault = orjson.dumps({"ts": now_ms, "type": "fault", "code": "E999", "severity": "critical"})
    junk = [(f"devices/junk-{run}/events", b"\xff\xfe not json"), ("demo/devices/px200-0001/logs", b"[1, 2"),
            (f"demo/devices/odd-{run}/events", fresh_fault, True),  # retained, with a current event time
            (f"devices/junk-{run}/telemetry", b"{}", True)]
    publish_all(url, junk * 50)
    for prefix in ("devices", "demo/devices"):
        sim = faultline_cli(["simulate", "--scenario", "healthy", "--devices", "30", "--duration", "6h",
                             "--seed", str(run), "--topic-prefix", prefix, "--topics", "events,logs,meta,status",
                             "--mqtt-url", url, "--quiet"], cwd=root, timeout=300)
        assert sim.returncode == 0, sim.stderr


def test_five_demos_in_a_row_each_print_the_firmware_ticket(project):
    url = LocalStack(project / ".faultline").state()["mqtt_url"]
    for run in range(5):
        if run:
            _contaminate(url, run, project)
        demo = faultline_cli(["demo", "--exit", "--no-telemetry"], cwd=project, timeout=400)
        out = demo.stdout
        assert demo.returncode == 0, f"run {run}:\n{out[-3000:]}\n{demo.stderr[-3000:]}"
        assert "Injected: firmware-regression fw-2.1.0-regression, attribution firmware=2.1.0" in out
        assert "-> ticket 1" in out and "1 ticket(s) opened" in out, out[-3000:]
        replay = [line for line in out.splitlines() if "the same run without the services:" in line]
        assert replay and replay[0].split(": ", 1)[1].startswith(
            "faultline eval --scenario firmware-regression --devices 100 --duration 2d --seed 0 --start 20")
        assert replay[0].endswith("--no-telemetry"), replay
        assert "cohort model=PX-200,firmware=2.1.0" in out and "0 ticket(s) opened" not in out
        assert f"Demo data: {project / '.faultline' / 'demo'}" in out
        assert f"FAULTLINE_DATA_DIR={project / '.faultline' / 'demo'}" in out and "tickets list" in out
    listed = faultline_cli(["tickets", "list"], cwd=project, env={"FAULTLINE_DATA_DIR": ".faultline/demo"})
    assert listed.returncode == 0 and "firmware=2.1.0" in listed.stdout  # as the demo says to look


def test_demo_stops_on_sigint_while_playing(project):
    exe = str(Path(sys.executable).parent / "faultline")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}
    proc = subprocess.Popen([exe, "demo", "--exit"], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Playing "):
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, "".join(lines) + rest
    assert "demo interrupted; stopping" in rest and "Traceback" not in rest
