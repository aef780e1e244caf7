"""The local stack: ports, readiness, stop by PID."""

import socket

import pytest

from faultline.settings import load_settings
from faultline.stack import LocalStack, StackError, choose_port, free_port


@pytest.fixture
def busy_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def test_taken_default_port_is_replaced_and_said(busy_port):
    port, note = choose_port(None, busy_port, "mosquitto")
    assert port != busy_port and f"default port {busy_port} is taken" in note


def test_requested_port_taken_is_a_clear_error(busy_port):
    with pytest.raises(StackError, match=f"port {busy_port} was requested but is already in use"):
        choose_port(busy_port, 1883, "mosquitto")


def test_up_status_down(tmp_path, busy_port):
    local = LocalStack(tmp_path)
    mqtt_port, influx_port = free_port(), free_port()
    local.up(mqtt_port, influx_port, "faultline")
    try:
        running = {name: (pid, port) for name, pid, port in local.status()}
        assert running["mosquitto"][0] and running["mosquitto"][1] == mqtt_port
        assert running["influxd"][0] and running["influxd"][1] == influx_port
        settings = load_settings({"FAULTLINE_DATA_DIR": str(tmp_path)})
        assert settings.mqtt_url == f"mqtt://127.0.0.1:{mqtt_port}"
        assert settings.influx_url == f"http://127.0.0.1:{influx_port}"
        assert (tmp_path / "stack" / "mosquitto.log").exists() and (tmp_path / "stack" / "influxd.log").exists()
        with pytest.raises(StackError):
            LocalStack(tmp_path / "other").up(mqtt_port, None, "x")
    finally:
        local.down()
    assert all(pid is None for _, pid, _ in local.status())
