"""TLS at a real Mosquitto: certificates made by `faultline.certs`, verified by the client (and refused on a wrong CA)."""

from __future__ import annotations

import ssl
import time

import pytest

from faultline.certs import ensure
from database import make_engine, migrate
from faultline.provisioning import Provisioner
from faultline.stack import Mosquitto, free_port
from ingest.mqtt import Subscriber
from support.mqtt_client import DEADLINE_S, Client, wait_for


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory):
    """A broker with TLS and the generated authorisation; a provisioned device and service user."""
    root = tmp_path_factory.mktemp("tls")
    url = f"sqlite:///{root / 'database'}"
    migrate(url)
    engine = make_engine(url)
    certs = ensure(root / "tls")
    broker = Mosquitto(root / "stack", free_port(), root / "auth", certs.ca_file.parent)
    p = Provisioner(engine, root / "auth", "devices", broker_pid=broker.pid, now=lambda: int(time.time() * 1000))
    ids = {"faultline-ingest": p.service_user("faultline-ingest"), "pump-1": p.provision("pump-1")}
    broker.start()
    yield broker, certs, ids, root
    broker.stop()
    engine.dispose()


def test_a_device_publishes_over_verified_tls_to_faultline(tls_broker):
    broker, certs, ids, _ = tls_broker
    seen = []
    url = f"mqtts://faultline-ingest:{ids['faultline-ingest']}@127.0.0.1:{broker.port}"
    ingest = Subscriber(url, "faultline-ingest", "devices/#", lambda m: seen.append(m.payload),
                        ca_file=str(certs.ca_file))
    ingest.start()
    try:
        assert ingest.wait_connected(DEADLINE_S)
        device = Client(broker.port, "pump-1", ids["pump-1"], tls={"ca_certs": str(certs.ca_file)})
        assert device.connack == 0
        wait_for(lambda: device.publish("devices/pump-1/telemetry", b"over tls") == 0 and seen, "the message")
        assert b"over tls" in seen
        device.close()
    finally:
        ingest.stop()


def test_a_broker_certificate_from_another_ca_is_refused(tls_broker):
    broker, _, ids, root = tls_broker
    other = ensure(root / "other-ca", name="Some other CA")
    with pytest.raises(ssl.SSLCertVerificationError):
        Client(broker.port, "pump-1", ids["pump-1"], tls={"ca_certs": str(other.ca_file)})
    failures = []
    url = f"mqtts://faultline-ingest:{ids['faultline-ingest']}@127.0.0.1:{broker.port}"
    ingest = Subscriber(url, "faultline-ingest", "devices/#", failures.append, ca_file=str(other.ca_file))
    ingest.start()
    try:
        wait_for(lambda: ingest.failures.attempts >= 1, "a failed attempt")
        assert not ingest.connected.is_set() and ingest.generation == 0  # the handshake fails, every time
    finally:
        ingest.stop()


def test_plain_mqtt_is_not_spoken_on_the_tls_port(tls_broker):
    broker, _, ids, _ = tls_broker
    client = Client(broker.port, "pump-1", ids["pump-1"])  # a plain CONNECT: the TLS listener closes it
    assert client.closed.is_set() and client.connack is None
    client.close()


def test_messages_of_every_size_arrive_intact_over_tls(tls_broker):
    """TLS records (16 KiB) and the receive buffer (64 KiB) cut packets at other places: nothing is lost."""
    broker, certs, ids, _ = tls_broker
    seen = []

    def on_message(m):
        seen.append(m.payload)
        ingest.ack(m.mid, m.qos, m.generation)

    url = f"mqtts://faultline-ingest:{ids['faultline-ingest']}@127.0.0.1:{broker.port}"
    ingest = Subscriber(url, "faultline-ingest-sizes", "devices/#", on_message, ca_file=str(certs.ca_file),
                        clean_start=True)  # a session of its own: nothing left from the tests above
    sizes = [0, 1, 127, 128, 16_383, 16_384, 16_385, 65_535, 65_536, 65_537, 200_000] + list(range(50, 5000, 37))
    payloads = [bytes([i % 251]) * size for i, size in enumerate(sizes)]
    ingest.start()
    device = None
    try:
        assert ingest.wait_connected(DEADLINE_S)
        device = Client(broker.port, "pump-1", ids["pump-1"], tls={"ca_certs": str(certs.ca_file)})
        infos = [device.client.publish("devices/pump-1/telemetry", p, qos=1) for p in payloads]
        for info in infos:
            info.wait_for_publish(timeout=DEADLINE_S)
        wait_for(lambda: len(seen) >= len(payloads), "every message")
        assert seen == payloads
    finally:
        if device is not None:
            device.close()
        ingest.stop()
