"""Device messages over real MQTT, through `faultline ingest`'s service into InfluxDB, become ticket evidence.

The cohort tags on the points and the customer tier used by routing come
from the devices' ``meta`` messages (the registry that ingest keeps in SQL).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from database import make_engine, migrate
from faultline.settings import load_settings
from influx.client import InfluxClient
from faultline.wiring import ingest_service, ticket_service
from support.tickets import make_alert
from support.waiting import wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "tickets" / "routing.example.yaml"
FLEET = {"pump-1": ("2.1.0", "gold"), "pump-2": ("2.1.0", "basic"), "pump-3": ("2.0.3", "basic"),
         "pump-4": ("2.0.3", "basic")}


@pytest.fixture
def settings(settings_env):
    return load_settings({**settings_env, "FAULTLINE_TICKETS_ROUTING_FILE": str(EXAMPLE)})


@pytest.fixture
def ingest(settings):
    service = ingest_service(settings)
    service.client.ensure_database()
    service.start()
    assert service.subscriber.wait_connected(20)
    yield service
    service.stop()


def _messages(base_ms: int) -> list[tuple]:
    msgs = []
    for i, (device, (firmware, tier)) in enumerate(FLEET.items()):
        faults = 5 if firmware == "2.1.0" else 1
        msgs.append((f"devices/{device}/telemetry", json.dumps(
            [{"ts": base_ms + k * 10_000, "seq": k, "metrics": {"temp_c": 40.0 + 10 * i + k}} for k in range(3)])))
        msgs.append((f"devices/{device}/events", json.dumps(
            [{"ts": base_ms + k * 1_000, "seq": k, "type": "fault", "code": "E214", "severity": "major"}
             for k in range(faults)])))
        msgs.append((f"devices/{device}/logs", json.dumps(
            [{"ts": base_ms - 30_000, "seq": 1, "level": "INFO", "component": "motor", "msg": "start"},
             {"ts": base_ms + 5_000, "seq": 2, "level": "ERROR", "component": "motor", "code": "E214",
              "msg": f"overcurrent on phase B ({device})"}])))
    return msgs


def test_ingested_messages_are_the_evidence_of_a_cohort_ticket(ingest, settings, publish):
    meta = [(f"devices/{d}/meta", json.dumps({"model": "PX-200", "firmware": fw, "site": "sh-03",
                                               "customer": "acme", "tier": tier}), True)
            for d, (fw, tier) in FLEET.items()]
    publish(meta)
    wait_until(lambda: all(ingest.registry.cohort_of(d).firmware == fw for d, (fw, _) in FLEET.items()),
               what="meta in the registry")
    base = (int(time.time()) - 3600) * 1000
    publish(_messages(base))
    client = InfluxClient(settings.influx_url, settings.influx_db)
    wait_until(lambda: (client.rows("SELECT count(seq) FROM telemetry") or [{}])[0].get("count") == 12
               and (client.rows("SELECT count(code) FROM device_events") or [{}])[0].get("count") == 12
               and (client.rows("SELECT count(msg) FROM device_logs") or [{}])[0].get("count") == 8,
               what="all points stored")
    migrate(settings.sql_url)
    engine = make_engine(settings.sql_url)
    svc = ticket_service(settings, engine, now=lambda: base + 60_000, influx=client)
    cohort = svc.apply(make_alert("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate",
                                  t_ms=base + 60_000, attribution="firmware=2.1.0", devices=("pump-1", "pump-2"),
                                  site=""))
    ev = cohort.evidence
    assert ev.complete, ev.errors
    assert [(r.value, r.devices, r.faults, r.flagged) for r in ev.cohort] == [("2.1.0", 2, 12, True),
                                                                              ("2.0.3", 2, 4, False)]
    assert [(e.level, e.device) for e in ev.logs] == [("ERROR", "pump-1"), ("ERROR", "pump-2"),
                                                      ("INFO", "pump-1"), ("INFO", "pump-2")]
    assert (cohort.team, cohort.severity) == ("firmware", "major")
    device = svc.apply(make_alert("pump-1", t_ms=base + 60_000, site=""))  # gold tier, from the registry
    assert (device.tier, device.team, device.severity) == ("gold", "field-service", "critical")
    temp = {m.metric: m for m in device.evidence.metrics}["temp_c"]
    assert (temp.subject.min, temp.subject.max, temp.reference.min, temp.reference.max) == (40.0, 42.0, 40.0, 52.0)
    client.close()
    engine.dispose()
