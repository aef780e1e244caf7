"""Session fixtures: a real Mosquitto and a real InfluxDB on free ports in a temp dir.

Tests that stop, kill or restart a service use the function-scoped
``private_stack`` so the shared one stays up for everyone else.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from faultline.stack import Influxd, Mosquitto, free_port
from support import publish_all, wait_until  # noqa: F401 - re-exported for tests


@dataclass
class TestStack:
    mosquitto: Mosquitto
    influxd: Influxd

    @property
    def mqtt_url(self) -> str:
        return self.mosquitto.url

    @property
    def mqtt_port(self) -> int:
        return self.mosquitto.port

    @property
    def influx_url(self) -> str:
        return self.influxd.url

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database for one test."""
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.influxd.create_database(name)
        return name

    def stop(self) -> None:
        for service in (self.mosquitto, self.influxd):
            service.stop()


def _start_stack(root: Path) -> TestStack:
    mosq = Mosquitto(root / "mqtt", free_port())
    influxd = Influxd(root / "influx", free_port())
    mosq.start()
    influxd.start()
    return TestStack(mosq, influxd)


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> TestStack:
    """Shared services for the whole session (never stopped by a test)."""
    for tool in ("mosquitto", "influxd"):
        if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")):
            pytest.fail(f"{tool} is not installed: run `make test` (it installs it) or apt-get install mosquitto influxdb")
    s = _start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


@pytest.fixture
def private_stack(tmp_path) -> TestStack:
    """Services for one test that stops, kills or restarts them."""
    s = _start_stack(tmp_path / "stack")
    yield s
    s.stop()


@pytest.fixture
def influx_db(stack) -> str:
    """A fresh database on the shared InfluxDB."""
    return stack.new_database()


@pytest.fixture
def settings_env(stack, influx_db, tmp_path) -> dict[str, str]:
    """FAULTLINE_* environment pointing at the shared stack and a fresh database."""
    return {
        "FAULTLINE_MQTT_URL": stack.mqtt_url,
        "FAULTLINE_MQTT_CLIENT_ID": f"faultline-test-{uuid.uuid4().hex[:8]}",
        "FAULTLINE_INFLUX_URL": stack.influx_url,
        "FAULTLINE_INFLUX_DB": influx_db,
        "FAULTLINE_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def publish(stack):
    """publish(messages) → count, on the shared broker with QoS 1."""
    return lambda messages, **kw: publish_all(stack.mqtt_url, messages, **kw)
