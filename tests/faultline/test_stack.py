"""The local stack: ports, readiness, stop by PID."""

import os
import signal
import socket

import pytest

from faultline.settings import load_settings
from faultline.stack import LocalStack, StackError, choose_port, free_port
from support.processes import faultline_cli
from support.waiting import wait_until


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


def test_stack_up_with_a_relative_data_dir_from_the_cli(tmp_path):
    """The default data dir is relative: the children must still find their config, data and logs."""
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    (project / ".env").write_text("FAULTLINE_DATA_DIR=.faultline\n")
    mqtt_port, influx_port = free_port(), free_port()
    up = faultline_cli(["stack", "up", "--mqtt-port", str(mqtt_port), "--influx-port", str(influx_port)],
                       cwd=project / "sub")
    local = LocalStack(project / ".faultline")
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        assert f"mqtt://127.0.0.1:{mqtt_port}" in up.stdout
        conf = (project / ".faultline" / "stack" / "mosquitto.conf").read_text()
        assert f"persistence_location {project}/.faultline/stack/mosquitto-data/" in conf
        status = faultline_cli(["stack", "status"], cwd=project)
        assert status.stdout.count("running, pid") == 2, status.stdout
    finally:
        down = faultline_cli(["stack", "down"], cwd=project / "sub")
    assert down.returncode == 0 and all(pid is None for _, pid, _ in local.status())


def test_stack_up_after_the_broker_died_reuses_its_port(tmp_path):
    local = LocalStack(tmp_path)
    local.up(None, free_port(), "faultline")
    try:
        mosquitto = local.services()[0]
        port = mosquitto.port
        os.kill(mosquitto.pid(), signal.SIGKILL)
        wait_until(lambda: mosquitto.pid() is None, 30, what="mosquitto gone")
        notes = local.up(None, None, "faultline")
        assert local.services()[0].port == port and not [n for n in notes if "mosquitto" in n]
        assert local.services()[0].pid() is not None
    finally:
        local.down()


def test_previous_port_taken_is_said(busy_port):
    port, note = choose_port(None, free_port(), "mosquitto", previous=busy_port)
    assert port != busy_port and f"previous port {busy_port} is taken" in note and "restarted" in note
