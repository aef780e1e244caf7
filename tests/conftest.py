"""Session fixtures: a real Mosquitto and a real InfluxDB on free ports in a temp dir.

Tests that stop, kill or restart a service use the function-scoped
``private_stack`` so the shared one stays up for everyone else.
"""

from __future__ import annotations

import os
import shutil
import uuid

import pytest

from support.processes import TestStack, start_stack
from support.publishing import publish_all


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> TestStack:
    """Shared services for the whole session (never stopped by a test)."""
    for tool in ("mosquitto", "influxd"):
        if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")):
            pytest.fail(f"{tool} is not installed: run `make test` (it installs it) or apt-get install mosquitto influxdb")
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


@pytest.fixture
def private_stack(tmp_path) -> TestStack:
    """Services for one test that stops, kills or restarts them."""
    s = start_stack(tmp_path / "stack")
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
