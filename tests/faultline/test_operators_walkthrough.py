"""The README's walk-through of device provisioning over TLS, run as written (real broker, InfluxDB and CLI).

The two ``bash`` blocks under "Device identity" are run by bash with ``-e``
in a fresh project folder; the only change is the broker port (8883 in the
text; a free port here, so that the suite never depends on 8883 being free).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.mqtt_client import Client, wait_for
from faultline.stack import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
HEADING = "### Device identity: provisioning a device and connecting it over TLS"


def walkthrough_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index(HEADING):]
    section = section[:section.index("\n## ")]
    return re.findall(r"```bash\n(.*?)```", section, re.S)


def run_block(block: str, folder: Path, port: int, env: dict) -> subprocess.CompletedProcess:
    script = block.replace("faultline stack up --auth --tls", f"faultline stack up --auth --tls --mqtt-port {port} "
                           f"--influx-port {free_port()}").replace("-p 8883", f"-p {port}")
    return subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.timeout(600)
def test_the_readme_walkthrough_provisions_and_connects_over_tls(tmp_path):
    blocks = walkthrough_blocks()
    assert len(blocks) == 2 and "mosquitto_pub" in blocks[0] and "revoke" in blocks[1]
    (tmp_path / ".env").write_text("FAULTLINE_INFLUX_DB=faultline\n")  # this folder is the project
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    port = free_port()
    first = run_block(blocks[0], tmp_path, port, env)
    try:
        assert first.returncode == 0, first.stderr[-3000:]
        state = json.loads((tmp_path / ".faultline" / "stack" / "state.json").read_text())
        assert state["mqtt_url"].startswith("mqtts://faultline-ingest:") and state["mqtt_ca_file"]
        assert oct((tmp_path / ".faultline" / "stack" / "state.json").stat().st_mode & 0o777) == "0o600"
        creds = (tmp_path / "fleet-credentials.csv").read_text().splitlines()
        assert creds[0] == "device,password" and len(creds) == 4
        assert "3 devices" in first.stdout  # the simulator's summary: every device published as itself
        listed = first.stdout.splitlines()
        assert any(line.split()[:3] == ["pump-7", "device", "active"] for line in listed)
        # Faultline's service user reads what pump-7 published over TLS (its retained meta)
        user, password = state["mqtt_url"].split("://")[1].split("@")[0].split(":")
        service = Client(port, user, password, user, tls={"ca_certs": state["mqtt_ca_file"]})
        service.client.subscribe("devices/pump-7/meta", qos=1)
        wait_for(lambda: service.messages, "pump-7's retained meta")
        assert json.loads(service.messages[0][1])["model"] == "PX-200"
        service.close()
        rotated = (tmp_path / "pump-7.txt").read_text().split("password ")[1].split()[0]
        device = Client(port, "pump-7", rotated, tls={"ca_certs": state["mqtt_ca_file"]})
        assert device.connack == 0  # so the refusal below is the revocation's doing
        device.close()
    finally:
        second = run_block(blocks[1], tmp_path, port, env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "pump-7 refused" in second.stdout and "not authorised" in second.stderr.lower()
