"""What a device can make ingest hold is bounded: dead letters (per device, by bytes, by age), metric
names per device (and per model by allow-list), in-memory state of silent devices; one message
that trips a bug costs that message its storage, not the pipeline. Real SQLite."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import insert

from database import make_engine, migrate
from ingest import deadletters, fields
from ingest.batch import Batch
from ingest.deadletters import DeadLetter, DeadLetterStore
from ingest.decode import DecodeLimits
from ingest.fields import FieldCatalogue, load_allowlist
from ingest.ledger import Ledger
from ingest.mqtt import Incoming
from ingest.pipeline import MessageSource, Pipeline
from ingest.registry import DeviceRegistry, DeviceRow
from ingest.records import Cohort, DeviceMeta

DAY = 86_400_000


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    migrate(url)
    eng = make_engine(url)
    yield eng
    eng.dispose()


def letter(device: str | None, ms: int, size: int = 10) -> DeadLetter:
    return DeadLetter(ms, f"devices/{device}/logs", b"x" * size, "decode", "json", "bad", device)


def test_dead_letters_keep_the_newest_per_device(engine):
    store = DeadLetterStore(engine, max_per_device=3)
    removed = store.add([letter("junk", i) for i in range(5)] + [letter("calm", 0), letter(None, 0)])
    assert removed == {"device_cap": 2}
    assert [r.received_ms for r in deadletters.query(engine, device="junk")] == [2, 3, 4]
    assert store.add([letter(None, i) for i in range(1, 5)]) == {"device_cap": 2}  # no device: one group
    assert deadletters.counts_by(engine, "device") == {"junk": 3, "calm": 1, "": 3}


def test_dead_letters_are_bounded_in_bytes_oldest_first(engine):
    store = DeadLetterStore(engine, max_per_device=1000, max_bytes=10_000)
    for i in range(30):
        store.add([letter(f"d{i}", i, size=1000)])
    kept = [r.received_ms for r in deadletters.query(engine, limit=100)]
    assert len(kept) <= 10 and kept == sorted(kept) and kept[-1] == 29
    assert DeadLetterStore(engine, max_bytes=10_000).prune(0) == {}  # a fresh count agrees: within the bound


def test_dead_letters_expire_after_the_retention(engine):
    store = DeadLetterStore(engine, retention_ms=30 * DAY)
    store.add([letter("a", 0), letter("a", 20 * DAY), letter("b", 40 * DAY)])
    assert store.prune(now_ms=55 * DAY) == {"expired": 2}
    assert [r.received_ms for r in deadletters.query(engine)] == [40 * DAY]


def test_metric_names_per_device_are_capped_across_restarts(engine):
    catalogue = FieldCatalogue(engine, max_per_device=3)
    assert catalogue.admit("d1", "PX", ["a", "b"], 1) == ()
    assert catalogue.admit("d1", "PX", ["a", "c", "d"], 2) == ("d",)  # the whole reading is refused
    fields.persist(engine, catalogue.take_new())
    again = FieldCatalogue(engine, max_per_device=3)  # a restart: the names come back from SQL
    assert again.admit("d1", "PX", ["c"], 3) == () and again.admit("d1", "PX", ["z"], 3) == ("z",)
    fields.persist(engine, again.take_new())
    assert fields.field_names(engine, {"device": "d1"}) == ["a", "b", "c"]
    assert "past the device's limit of 3" in again.refusal("d1", "PX", ("z",))


def test_an_allow_list_refuses_other_names_for_its_model(engine, tmp_path):
    path = tmp_path / "allow.yaml"
    path.write_text("PX-200: [temp_c, 'vib_*']\n")
    catalogue = FieldCatalogue(engine, max_per_device=100, allow=load_allowlist(path))
    assert catalogue.admit("d1", "PX-200", ["temp_c", "vib_x"], 0) == ()
    assert catalogue.admit("d1", "PX-200", ["rpm"], 0) == ("rpm",)
    assert catalogue.admit("d2", "FX-10", ["rpm"], 0) == ()  # models not listed: the cap only
    assert "allow-list of model 'PX-200'" in catalogue.refusal("d1", "PX-200", ("rpm",))


def test_silent_devices_leave_memory_and_come_back_from_sql(engine):
    registry = DeviceRegistry(engine, now=lambda: 1000)
    meta = DeviceMeta("d1", 1000, "PX-200", "2.1.0", "sh-03")
    registry.note_meta(meta)
    registry.persist([meta], [])
    assert registry.evict_idle(before_ms=2000) == 1 and len(registry) == 0
    assert registry.cohort_of("d1").firmware == "2.1.0"

    ledger = Ledger(engine=engine, now=lambda: 1000)
    for seq in (1, 2, 5):
        ledger.observe("d1", "telemetry", seq, 1000)
    ledger.confirmed_gaps(10**9)
    assert ledger.evict_idle(before_ms=2000) == 0  # not saved yet: kept
    ledger.save()
    assert ledger.evict_idle(before_ms=2000) == 1 and len(ledger) == 0
    assert ledger.observe("d1", "telemetry", 6, 3000) == "next"
    entry = ledger.entries("d1")[0]
    assert (entry.received, entry.gaps_total, entry.missing) == (4, 2, [[3, 4]])


def test_a_registry_value_that_breaks_the_tag_rule_is_read_as_empty(engine):
    with engine.begin() as conn:  # written before meta values were checked like tag values
        conn.execute(insert(DeviceRow).values(device="old-1", model="PX", firmware="2.1.0\\", site="s1"))
    assert DeviceRegistry(engine).cohort_of("old-1") == Cohort("PX", "", "s1")


def test_the_ledger_saturates_and_calls_a_huge_jump_a_reset(engine):
    ledger = Ledger(engine=engine)
    verdicts = [ledger.observe("d1", "logs", seq, 0) for seq in (1, 2**32, 2**63 - 1, 2**62, 2**62 + 2**32)]
    assert verdicts == ["next", "gap", "reset", "reset", "gap"]
    ledger.save()  # huge values fit their columns
    entry = ledger.entries("d1")[0]
    assert entry.resets == 2 and entry.gaps_total == (2**32 - 2) + (2**32 - 1)


def test_an_internal_failure_dead_letters_the_message_and_keeps_its_ack(engine, monkeypatch):
    pipeline = Pipeline(DeviceRegistry(engine), Ledger(), "devices", DecodeLimits())
    batch = Batch()
    pipeline.add(batch, Incoming("devices/d1/logs", b'{"level": "INFO", "msg": "fine"}', 0, 1, 1, 1))

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("ingest.pipeline.line_for", broken)
    pipeline.add(batch, Incoming("devices/d1/logs", b'{"level": "INFO", "msg": "unlucky"}', 0, 2, 1, 1))
    assert batch.acks == [(1, 1, 1), (2, 1, 1)] and len(batch.lines) == 1
    assert [(d.stage, d.reason_kind, d.reason) for d in batch.dead] == [("ingest", "internal", "RuntimeError: a bug")]
    assert pipeline.failures == 1


def test_oversized_payloads_are_kept_as_head_size_and_digest(engine):
    pipeline = Pipeline(DeviceRegistry(engine), None, "devices", DecodeLimits(max_payload_bytes=100))
    batch = Batch()
    raw = orjson.dumps({"level": "INFO", "msg": "z" * 5000})
    pipeline.add(batch, MessageSource("devices/d1/logs", raw, 0))
    DeadLetterStore(engine).add(batch.dead)
    row = deadletters.query(engine)[0]
    assert (len(row.payload), row.payload_size, len(row.payload_sha256), row.reason_kind) == \
        (deadletters.OVERSIZED_HEAD, len(raw), 64, "size")


def test_the_packet_size_faultline_announces_is_the_one_every_shipped_broker_config_sets():
    """Aligned limits: the broker refuses a larger message to its publisher instead of dropping it
    on its way to Faultline (an MQTT 5 broker never sends a client more than its Maximum Packet Size)."""
    import re
    from pathlib import Path

    from faultline.settings import Settings
    from faultline.stack import MOSQUITTO_CONF

    root = Path(__file__).resolve().parents[2]
    for name, text in (("faultline stack", MOSQUITTO_CONF),
                       ("docker-compose", (root / "deploy/mosquitto/mosquitto.conf").read_text())):
        found = re.search(r"^max_packet_size (\d+)$", text, re.M)
        assert found and int(found.group(1)) == Settings().mqtt_max_packet_bytes, name
    assert Settings().max_payload_bytes < Settings().mqtt_max_packet_bytes  # room for head + digest letters


def test_the_broker_bound_ingest_assumes_over_mqtt_311_is_the_one_every_shipped_broker_config_sets():
    """Over MQTT 3.1.1 the broker's max_inflight_messages bounds what is unacknowledged; batches are sized
    for it, since a batch waiting for more than the broker sends would only go at the linger time."""
    import re
    from pathlib import Path

    from faultline.settings import Settings
    from faultline.stack import MOSQUITTO_CONF

    root = Path(__file__).resolve().parents[2]
    for name, text in (("faultline stack", MOSQUITTO_CONF),
                       ("docker-compose", (root / "deploy/mosquitto/mosquitto.conf").read_text())):
        found = re.search(r"^max_inflight_messages (\d+)$", text, re.M)
        assert found and int(found.group(1)) == Settings().mqtt_broker_max_inflight, name
