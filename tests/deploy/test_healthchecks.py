"""The compose stack's own pieces run for real: the broker config under Mosquitto 2, and health checks.

No Docker engine is needed: the Mosquitto config shipped for compose is loaded
by the real broker (paths and port moved into a temp dir), and the health
check commands compose runs are executed against a real broker and the
compose service's own command, `faultline run`.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from faultline.stack import free_port
from support.publishing import publish_all
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "mosquitto" / "mosquitto.conf"


def _compose_healthchecks() -> dict[str, list[str]]:
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return {name: svc["healthcheck"]["test"] for name, svc in doc["services"].items() if "healthcheck" in svc}


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _without_queue_limits(text: str) -> str:
    """The shipped config with Mosquitto's defaults for the queue (1000 messages, no QoS 0 queueing)."""
    drop = ("max_queued_messages", "max_queued_bytes", "queue_qos0_messages")
    return "\n".join(line for line in text.splitlines() if not line.startswith(drop))


HEALTH_PASSWORD = "health-pw"
SERVICE_PASSWORD = "ingest-pw"
DEVICE_PASSWORD = "d0-pw"


def _broker_files(tmp_path: Path) -> tuple[Path, Path]:
    """What broker-init makes: the password file and ACL (from a registry) and the TLS certificate."""
    import time

    from faultline.certs import ensure
    from database import make_engine, migrate
    from faultline.provisioning import Provisioner
    from ingest import credentials

    url = f"sqlite:///{tmp_path / 'registry.db'}"
    migrate(url)
    engine = make_engine(url)
    p = Provisioner(engine, tmp_path / "auth", "devices", broker_pid=lambda: None, now=lambda: int(time.time() * 1000))
    p.set_service_password("faultline-health", HEALTH_PASSWORD)
    p.set_service_password("faultline-ingest", SERVICE_PASSWORD)
    credentials.set_password(engine, "d0", "device", DEVICE_PASSWORD, 0, "test")
    p.apply()
    engine.dispose()
    return tmp_path / "auth", ensure(tmp_path / "tls").ca_file.parent


@pytest.fixture
def compose_broker(tmp_path, request):
    """Mosquitto running deploy/mosquitto/mosquitto.conf, moved to free ports and temp folders."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port, tls_port = free_port(), free_port()
    auth, tls = _broker_files(tmp_path)
    text = getattr(request, "param", lambda t: t)(CONF.read_text())
    text = text.replace("listener 1883 0.0.0.0", f"listener {port} 127.0.0.1")
    text = text.replace("listener 8883 0.0.0.0", f"listener {tls_port} 127.0.0.1")
    text = text.replace("/mosquitto/auth/", f"{auth}/").replace("/mosquitto/certs/", f"{tls}/")
    text = text.replace("persistence_location /mosquitto/data/", f"persistence_location {tmp_path}/")
    # Run as the user of the test (as the local stack does): the temp folders are private to it,
    # where compose's broker reads its files through the setgid folders' group.
    text = f"user {getpass.getuser()}\n" + text
    assert f"listener {port}" in text and f"listener {tls_port}" in text and str(tmp_path) in text
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(text)
    log = open(tmp_path / "mosquitto.log", "wb")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _port_open(port) or proc.poll() is not None, 30, what="mosquitto listening")
        assert proc.poll() is None, (tmp_path / "mosquitto.log").read_text()
        yield port, proc, tmp_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        log.close()


def _broker_healthcheck(port: int, password: str) -> subprocess.CompletedProcess:
    argv = _compose_healthchecks()["mosquitto"]
    assert argv[0] == "CMD-SHELL" and "-p 1883" in argv[1]
    cmd = argv[1].replace("$$", "$").replace("-p 1883", f"-p {port}")
    env = {**os.environ, "MQTT_HEALTHCHECK_PASSWORD": password}
    return subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=30, env=env)


def test_broker_config_loads_and_healthcheck_passes(compose_broker):
    port, proc, _ = compose_broker
    result = _broker_healthcheck(port, HEALTH_PASSWORD)
    assert result.returncode == 0, result.stderr
    assert _broker_healthcheck(port, "wrong").returncode != 0  # it logs in: a wrong password fails it
    assert proc.poll() is None


class OfflineSession:
    """A persistent subscriber session (as ingest holds one) that goes away and comes back."""

    def __init__(self, port: int):
        self.port = port
        self.client_id = "faultline-ingest"  # the broker takes the user name as client id anyway
        self.received: list[bytes] = []

    def _client(self):
        import paho.mqtt.client as paho

        c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False)
        c.username_pw_set("faultline-ingest", SERVICE_PASSWORD)
        c.on_message = lambda _c, _u, msg: self.received.append(msg.payload)
        c.connect("127.0.0.1", self.port)
        return c

    def subscribe_and_leave(self) -> None:
        import threading

        subscribed = threading.Event()
        c = self._client()
        c.on_subscribe = lambda *_: subscribed.set()
        c.loop_start()
        c.subscribe("devices/#", qos=1)
        wait_until(subscribed.is_set, 10, what="SUBACK")
        c.disconnect()
        c.loop_stop()

    def resume(self, expected: set[bytes]) -> bool:
        """Reconnect, take what arrives, disconnect; True once everything expected came."""
        c = self._client()
        c.loop_start()
        try:
            wait_until(lambda: expected <= set(self.received) or None, 5, what="queued messages")
        except AssertionError:
            pass  # Mosquitto 2.0.11 may hold a few back until the session's next connection
        finally:
            c.disconnect()
            c.loop_stop()
        return expected <= set(self.received)


def _publish_qos0(port: int, messages: list[tuple[str, bytes]]) -> None:
    """QoS 0 messages, then a QoS 1 fence on the same connection: its PUBACK means the broker handled them all."""
    import paho.mqtt.client as paho

    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="d0")
    c.username_pw_set("d0", DEVICE_PASSWORD)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        for topic, payload in messages:
            c.publish(topic, payload, qos=0)
        c.publish("devices/d0/fence", b"", qos=1).wait_for_publish(timeout=30)
    finally:
        c.disconnect()
        c.loop_stop()


def _publish_while_away(port: int, n: int) -> set[bytes]:
    url = f"mqtt://d0:{DEVICE_PASSWORD}@127.0.0.1:{port}"  # a device publishes under its own topics only
    publish_all(url, [("devices/d0/telemetry", b"%d" % i) for i in range(n)], client_id="d0")
    _publish_qos0(port, [("devices/d0/logs", b"qos0-%d" % i) for i in range(50)])
    return {b"%d" % i for i in range(n)} | {b"qos0-%d" % i for i in range(50)}


def test_broker_keeps_queueing_for_an_offline_session_past_the_default_limit(compose_broker):
    """Three times Mosquitto's default queue, QoS 1 and QoS 0, all delivered when ingest comes back."""
    port, _, _ = compose_broker
    ingest = OfflineSession(port)
    ingest.subscribe_and_leave()
    sent = _publish_while_away(port, 3000)
    wait_until(lambda: ingest.resume(sent), 60, interval=0.0, what="every queued message, QoS 1 and QoS 0")
    assert set(ingest.received) - {b""} == sent  # (b"": the QoS 1 fence)


@pytest.mark.parametrize("compose_broker", [_without_queue_limits], indirect=True)
def test_mosquitto_defaults_would_drop_what_the_shipped_config_keeps(compose_broker):
    """Why the limits are set: with the defaults the same outage silently loses messages."""
    port, _, _ = compose_broker
    ingest = OfflineSession(port)
    ingest.subscribe_and_leave()
    sent = _publish_while_away(port, 3000)
    ingest.resume(sent)
    ingest.resume(sent)  # a second connection: nothing held back remains
    got = set(ingest.received)
    assert not any(m.startswith(b"qos0") for m in got)  # QoS 0 not queued at all
    assert len(got) <= 1000 + 1000  # at most the queue plus what was in flight; the rest is gone
    assert len(sent - got) >= 1000


def test_faultline_service_command_starts_and_passes_its_healthcheck(settings_env, tmp_path):
    """The compose service's command (`faultline run`) against the real broker and InfluxDB, probed as compose probes it."""
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}, **settings_env,
           "FAULTLINE_API_HOST": "127.0.0.1", "FAULTLINE_API_PORT": str(port),
           # its own detector session on the shared broker, not the default id other tests may use
           "FAULTLINE_DETECTOR_MQTT_CLIENT_ID": f"detect-{uuid.uuid4().hex[:8]}"}
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["faultline"]["command"]
    assert command[0] == "faultline"
    exe = str(Path(sys.executable).parent / "faultline")
    log = open(tmp_path / "faultline.log", "wb")
    proc = subprocess.Popen([exe, *command[1:]], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _port_open(port) or proc.poll() is not None, 90, what="faultline serving its API")
        assert proc.poll() is None, (tmp_path / "faultline.log").read_text()[-2000:]
        argv = _compose_healthchecks()["faultline"]
        assert argv[:2] == ["CMD", "python"]
        code = argv[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        assert code != argv[3]
        # The port opens before the API answers (the detectors and ingest start in between); compose probes
        # again until the service is healthy, so the probe is repeated here too.
        probe = lambda: subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
        wait_until(lambda: probe().returncode == 0 or proc.poll() is not None, 60, what="the healthcheck passing")
        result = probe()
        assert result.returncode == 0, result.stderr
        dockerfile = (ROOT / "Dockerfile").read_text()
        assert argv[3].split("'")[1] in dockerfile  # the image's HEALTHCHECK probes the same URL
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0  # a graceful stop
        log.close()


def test_healthcheck_fails_when_nothing_answers():
    argv = _compose_healthchecks()["faultline"]
    code = argv[3].replace("127.0.0.1:8000", f"127.0.0.1:{free_port()}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
