"""Message → batch without a broker or InfluxDB: what is stored, what is dead-lettered and why.

The device registry and the ledger run on a SQLite file (a real database,
no server); messages enter as `MessageSource`, as a replayed dead letter does.
"""

from __future__ import annotations

import pytest

from database import make_engine
from ingest.batch import Batch
from ingest.decode import DecodeLimits
from ingest.ledger import Ledger
from ingest.pipeline import MessageSource, Pipeline
from ingest.registry import DeviceRegistry
from support.sqlite import migrated_sqlite

NOW = 1_700_000_000_000


@pytest.fixture
def pipeline(tmp_path):
    engine = make_engine(migrated_sqlite(tmp_path / "ingest.db"))
    yield Pipeline(DeviceRegistry(engine, now=lambda: NOW), Ledger(now=lambda: NOW), "devices",
                   DecodeLimits(max_payload_bytes=256))
    engine.dispose()


def run(pipeline: Pipeline, *messages: tuple[str, bytes]) -> Batch:
    batch = Batch()
    for topic, payload in messages:
        pipeline.add(batch, MessageSource(topic, payload, NOW))
    return batch


@pytest.mark.parametrize("topic, payload, stage, reason_kind", [
    ("devices/pump-1/telemetry", b"{oops", "decode", "json"),
    ("devices/pump-1/telemetry", b"", "decode", "json"),
    ("devices/pump-1/telemetry", b"x" * 300, "decode", "size"),
    ("devices/pump-1/logs", b'{"level": "LOUD", "msg": "x"}', "validate", "schema"),
    ("devices/pump-1/logs", b'{"level": "INFO", "msg": "x", "ts": "soon"}', "validate", "range"),
    ("devices/bad id/logs", b'{"level": "INFO", "msg": "x"}', "validate", "topic"),
    ("elsewhere/pump-1/logs", b'{"level": "INFO", "msg": "x"}', "validate", "topic"),
    ("devices/pump-1/status", b"asleep", "validate", "schema"),
])
def test_a_bad_message_is_dead_lettered_with_its_reason_and_counted(pipeline, topic, payload, stage, reason_kind):
    batch = run(pipeline, (topic, payload))
    [letter] = batch.dead
    assert (letter.stage, letter.reason_kind, letter.topic, letter.received_ms) == (stage, reason_kind, topic, NOW)
    assert batch.lines == [] and batch.messages == 1 and batch.stats[(stage, reason_kind, "")] == 1


def test_an_oversized_payload_keeps_only_its_head_size_and_digest(pipeline):
    [letter] = run(pipeline, ("devices/pump-1/telemetry", b"x" * 5000)).dead
    assert (letter.size, len(letter.sha256), len(letter.payload)) == (5000, 64, 1024)


def test_good_items_of_a_batch_array_are_stored_and_the_message_dead_lettered_for_the_rest(pipeline):
    batch = run(pipeline, ("devices/pump-1/telemetry", b'[{"seq": 1, "metrics": {"a": 1}}, {"metrics": {"a": "x"}}]'))
    assert len(batch.lines) == 1 and len(batch.records) == 1
    [letter] = batch.dead
    assert letter.reason.startswith("batch item 1: ") and batch.sources[0].line_count == 1


def test_a_duplicate_is_stored_again_but_kept_from_the_detectors(pipeline):
    msg = ("devices/pump-1/telemetry", b'{"seq": 1, "metrics": {"a": 1}}')
    batch = run(pipeline, msg, msg)
    assert len(batch.lines) == 2 and len(batch.records) == 1 and batch.dead == []


def test_meta_sets_the_cohort_tags_of_later_points(pipeline):
    batch = run(pipeline, ("devices/pump-1/meta", b'{"model": "PX-200", "firmware": "2.1.0", "site": "sh-03"}'),
                ("devices/pump-1/telemetry", b'{"metrics": {"a": 1}}'))
    assert len(batch.metas) == 1 and "model=PX-200" in batch.lines[-1] and "firmware=2.1.0" in batch.lines[-1]


def test_a_retained_message_replayed_on_a_reconnect_is_stored_but_counted_once(pipeline):
    """MQTT 3.1.1 has no retain handling: every reconnect brings each retained message again."""
    from ingest.mqtt import Incoming

    fault = b'{"ts": 1699999990000, "seq": 7, "type": "fault", "code": "E214", "severity": "major"}'
    meta = b'{"model": "PX-200", "firmware": "2.1.0", "site": "sh-03"}'
    batch = Batch()
    for mid, replayed in ((1, False), (2, True)):
        for topic, payload in (("devices/pump-1/meta", meta), ("devices/pump-1/events", fault),
                               ("devices/pump-1/status", b"online")):
            pipeline.add(batch, Incoming(topic, payload, NOW, mid, 1, 1, replayed=replayed))
    assert len(batch.lines) == 4 and batch.lines[0] == batch.lines[2]  # the fault: the same point, twice
    assert len(batch.metas) == len(batch.statuses) == 2  # the registry is told again (same cohort, same state)
    assert [type(r).__name__ for r in batch.records] == ["DeviceMeta", "DeviceEvent", "DeviceStatus", "DeviceMeta"]
    [entry] = pipeline.ledger.entries("pump-1")
    assert (entry.received, entry.duplicates) == (1, 0)
    assert batch.stats[("redelivered", "retained", "")] == 3 and len(batch.acks) == 6
