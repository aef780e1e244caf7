"""Replay dead letters with the current code; what now succeeds leaves the store."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from faultline.settings import Settings
from influx.client import InfluxClient
from influx.errors import InfluxError
from ingest import deadletters
from ingest.batch import Batch
from ingest.pipeline import MessageSource, Pipeline
from ingest.registry import DeviceRegistry
from ingest.service import decode_limits
from ingest.spool import Spool
from ingest.writer import DurableWriter


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int  # stored now, removed from the store
    still_failing: int
    reasons: dict[int, str]  # id -> current reason for those still failing


def replay(settings: Settings, engine, ids: list[int] | None = None, limit: int = 100_000) -> ReplayResult:
    """Re-run decode and write for the given dead letters (all when `ids` is None).

    Raises `InfluxError` when InfluxDB cannot be reached: nothing is removed then.
    """
    client = InfluxClient(settings.influx_url, settings.influx_db, settings.influx_user,
                          settings.influx_password.get_secret_value(), settings.influx_timeout_s)
    registry = DeviceRegistry(engine)
    pipeline = Pipeline(registry, None, settings.mqtt_topic_prefix, decode_limits(settings))
    writer = DurableWriter(client, Spool(settings.data_dir / "replay-spool", 1), lambda _: None, threading.Event())
    done, failing = [], {}
    for row in deadletters.query(engine, ids=ids, limit=limit):
        batch = Batch()
        pipeline.add(batch, MessageSource(row.topic, row.payload, row.received_ms))
        if batch.dead:
            failing[row.id] = batch.dead[0].reason
            continue
        registry.persist(batch.metas, batch.statuses)
        refused = writer.write_isolating(batch.lines) if batch.lines else []
        if refused:
            failing[row.id] = refused[0][1]
        else:
            done.append(row.id)
    deadletters.remove(engine, done)
    return ReplayResult(len(done), len(failing), failing)


__all__ = ["replay", "ReplayResult", "InfluxError"]
