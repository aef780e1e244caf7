"""Device identity at a real Mosquitto running the generated password file, ACL and configuration."""

from __future__ import annotations

import time

import pytest

from database import make_engine, migrate
from faultline.provisioning import Provisioner
from faultline.stack import Mosquitto, free_port
from ingest import credentials
from ingest.mqtt import Subscriber

from support.mqtt_client import DEADLINE_S, NOT_AUTHORIZED, Client, wait_for


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A Mosquitto on the generated configuration, with its provisioner and three identities."""
    root = tmp_path_factory.mktemp("secured")
    url = f"sqlite:///{root / 'database'}"
    migrate(url)
    engine = make_engine(url)
    broker = Mosquitto(root / "stack", free_port(), root / "auth")
    p = Provisioner(engine, root / "auth", "devices", broker_pid=broker.pid, now=lambda: int(time.time() * 1000))
    ids = {"faultline-ingest": p.service_user("faultline-ingest"), "faultline-detect": p.service_user("faultline-detect"),
           "pump-1": p.provision("pump-1", {"model": "PX-200", "site": "sh-03"}),
           "pump-2": p.provision("pump-2"), "pump-3": p.provision("pump-3")}
    broker.start()
    yield broker, p, ids
    broker.stop()
    engine.dispose()


def test_an_anonymous_client_and_a_wrong_password_are_refused(secured):
    broker, _, ids = secured
    for refused in (Client(broker.port, None, None), Client(broker.port, "pump-1", ids["pump-1"] + "x")):
        assert refused.connack in (NOT_AUTHORIZED, 134)  # 134: bad user name or password
        refused.close()
    device = Client(broker.port, "pump-1", ids["pump-1"])
    assert device.connack == 0
    device.close()


def test_a_device_publishes_only_under_its_own_topics_and_reads_nothing(secured):
    broker, _, ids = secured
    service = Client(broker.port, "faultline-ingest", ids["faultline-ingest"], "faultline-ingest")
    service.client.subscribe("devices/#", qos=1)
    wait_for(lambda: service.subacks, "the service's SUBACK")
    assert service.subacks == [1]
    device = Client(broker.port, "pump-1", ids["pump-1"], "pump-1")
    assert device.publish("devices/pump-2/meta", b'{"model": "FAKE"}') == NOT_AUTHORIZED
    assert device.publish("devices/pump-2/events") == NOT_AUTHORIZED
    assert device.publish("elsewhere/x") == NOT_AUTHORIZED
    assert device.publish("devices/pump-1/telemetry", b'{"metrics": {"t": 1}}') == 0
    wait_for(lambda: service.messages, "the allowed message")
    assert [topic for topic, _ in service.messages] == ["devices/pump-1/telemetry"]  # the refused ones came first
    device.client.subscribe("devices/#", qos=1)  # Mosquitto grants it, then the ACL withholds every message
    wait_for(lambda: device.subacks, "the device's SUBACK")
    other = Client(broker.port, "pump-3", ids["pump-3"], "pump-3")
    assert other.publish("devices/pump-3/telemetry", b"1") == 0 and device.publish("devices/pump-1/logs", b"2") == 0
    wait_for(lambda: len(service.messages) == 3, "both messages at the service")
    assert device.messages == []  # delivered to the service in the same pass, never to the device
    other.close()
    device.close()
    service.close()


def test_only_service_users_write_and_read_the_detector_handoff(secured):
    broker, _, ids = secured
    shard = Client(broker.port, "faultline-detect", ids["faultline-detect"], "faultline-detect")
    shard.client.subscribe("faultline/handoff/devices/2/1", qos=1)
    wait_for(lambda: shard.subacks, "the shard's SUBACK")
    device = Client(broker.port, "pump-1", ids["pump-1"], "pump-1")
    assert device.publish("faultline/handoff/devices/2/1", b'{"v":1,"records":[]}') == NOT_AUTHORIZED
    ingest = Client(broker.port, "faultline-ingest", ids["faultline-ingest"], "faultline-ingest")
    assert ingest.publish("faultline/handoff/devices/2/1", b'{"v":1,"records":[]}') == 0
    wait_for(lambda: shard.messages, "the service user's handoff")
    assert [topic for topic, _ in shard.messages] == ["faultline/handoff/devices/2/1"]  # not the device's
    for client in (ingest, device, shard):
        client.close()


def test_no_one_takes_faultline_s_session_and_ingest_loses_nothing(secured):
    broker, _, ids = secured
    seen: set[bytes] = set()
    url = f"mqtt://faultline-ingest:{ids['faultline-ingest']}@127.0.0.1:{broker.port}"

    def receive(msg):
        seen.add(msg.payload)
        ingest.ack(msg.mid, msg.qos, msg.generation)

    ingest = Subscriber(url, "faultline-ingest", "devices/#", receive)
    ingest.start()
    assert ingest.wait_connected(DEADLINE_S)
    probe = Client(broker.port, "pump-3", ids["pump-3"])
    wait_for(lambda: probe.publish("devices/pump-3/logs", b"probe") == 0 and b"probe" in seen, "the subscription")
    intruders = []
    for i in range(400):
        assert probe.publish("devices/pump-3/telemetry", str(i).encode()) == 0
        if i % 20 == 0:  # a device, and an anonymous client, claim Faultline's client id while it runs
            intruders.append(Client(broker.port, "pump-2", ids["pump-2"], "faultline-ingest", clean_start=True))
            anonymous = Client(broker.port, None, None, "faultline-ingest")
            intruders.append(anonymous)
            assert anonymous.connack == NOT_AUTHORIZED
    wait_for(lambda: len(seen) >= 401, "every message at ingest")
    assert {str(i).encode() for i in range(400)} <= seen
    accepted = [c.connack for c in intruders[::2]]
    assert accepted == [0] * 20  # pump-2, accepted as itself (its user name), not as faultline-ingest
    assert ingest.generation == 1 and not ingest.taken_over.is_set()  # never disconnected
    for c in intruders + [probe]:
        c.close()
    ingest.stop()
    Client(broker.port, "faultline-ingest", ids["faultline-ingest"], clean_start=True).close()  # drop the session


def test_a_revoked_device_can_no_longer_connect(secured):
    broker, p, ids = secured
    first = Client(broker.port, "pump-2", ids["pump-2"])
    assert first.connack == 0
    first.close()
    p.revoke("pump-2")
    assert p.reloaded
    refused = []
    wait_for(lambda: refused.append(Client(broker.port, "pump-2", ids["pump-2"]).connack) or
             refused[-1] != 0, "the broker to apply the revocation")
    assert refused[-1] == NOT_AUTHORIZED
    assert [a.action for a in credentials.audit_trail(p.engine, "pump-2")] == ["provision", "revoke"]


def test_faultline_ids_are_reserved_and_passwords_match_mosquitto_passwd(secured, tmp_path):
    import subprocess

    _, p, _ = secured
    with pytest.raises(credentials.CredentialError, match="belong to Faultline"):
        p.provision("faultline-ingest")
    passwd = tmp_path / "pw"
    passwd.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(passwd), "dev", "s3cret"], check=True)
    stored = passwd.read_text().strip().split(":", 1)[1]
    assert stored.startswith("$7$") and credentials.hash_matches("s3cret", stored)
    assert not credentials.hash_matches("other", stored)


def test_meta_that_contradicts_the_registry_is_flagged_and_the_cohort_stays(secured, stack):
    """Authoritative mode, a real ingest on the secured broker: pump-1 claims another model."""
    import json

    from faultline.settings import load_settings
    from ingest.registry import MetaClaimRow
    from faultline.wiring import ingest_service
    from ingest.stats import totals_from

    _, p, ids = secured
    password = p.service_user("faultline-ingest-auth")
    # A broker of its own on the same generated files: this module's shared broker has been
    # reloaded several times by now, and Mosquitto 2.0.11 was seen to stall there (docs/operators.md,
    # "Broker authorisation and TLS").
    broker = Mosquitto(p.auth_dir.parent / "stack-meta", free_port(), p.auth_dir)
    broker.start()
    settings = load_settings({
        "FAULTLINE_MQTT_URL": f"mqtt://faultline-ingest-auth:{password}@127.0.0.1:{broker.port}",
        "FAULTLINE_MQTT_CLIENT_ID": "faultline-ingest-auth", "FAULTLINE_INFLUX_URL": stack.influx_url,
        "FAULTLINE_INFLUX_DB": stack.new_database(), "FAULTLINE_DATA_DIR": str(p.auth_dir.parent),
        "FAULTLINE_REGISTRY_AUTHORITATIVE": "true", "FAULTLINE_STATS_INTERVAL_S": "0.2"})
    ingest = ingest_service(settings)
    ingest.client.ensure_database()
    ingest.start()
    try:
        assert ingest.subscriber.wait_connected(DEADLINE_S)
        device = Client(broker.port, "pump-1", ids["pump-1"])
        assert device.connack == 0 and not device.closed.is_set(), device.connack
        claim = {"model": "PX-999", "firmware": "2.1.0", "site": "sh-03"}
        assert device.publish("devices/pump-1/meta", json.dumps(claim).encode()) == 0
        wait_for(lambda: ingest.registry.pinned("pump-1") and _claims(p.engine, MetaClaimRow), "the flagged claim")
        assert device.publish("devices/pump-1/telemetry", b'{"seq": 1, "metrics": {"temp_c": 40}}') == 0
        wait_for(lambda: ingest.client.rows('SELECT * FROM "telemetry"'), "the reading in InfluxDB")
        row = ingest.client.rows('SELECT * FROM "telemetry"')[0]
        assert (row["model"], row["site"]) == ("PX-200", "sh-03")  # the registry's cohort, not the claim
        assert ingest.registry.cohort_of("pump-1").model == "PX-200"
        claims = _claims(p.engine, MetaClaimRow)
        assert [(c.device, c.contradicts, json.loads(c.claimed)["model"]) for c in claims] == [
            ("pump-1", "model", "PX-999")]
        actions = [a.action for a in credentials.audit_trail(p.engine, "pump-1")]
        assert actions == ["provision", "cohort", "meta_flagged"]
        wait_for(lambda: totals_from(ingest.client).get(("meta_contradiction", "model")) == 1, "the count")
        device.close()
    finally:
        ingest.stop()
        broker.stop()


def _claims(engine, table):
    from sqlalchemy import select

    with engine.connect() as conn:
        return conn.execute(select(table)).all()
