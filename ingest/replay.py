"""Replay dead letters with the current code; what now succeeds leaves the store.

Dead letters are read, replayed and removed a page at a time, so replaying a
large store holds one page in memory; a caller can also stop after ``limit``
letters and continue later from ``next_after_id``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from influx.errors import InfluxError
from ingest import deadletters
from ingest import fields as field_store
from ingest.batch import Batch
from ingest.config import IngestConfig
from ingest.pipeline import MessageSource, Pipeline
from ingest.registry import DeviceRegistry
from ingest.service import field_catalogue
from ingest.spool import Spool
from ingest.writer import DurableWriter, LineWriter

PAGE = 500
MAX_REASONS = 100


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int  # stored now, removed from the store
    still_failing: int
    reasons: dict[int, str]  # id -> current reason, for the first `MAX_REASONS` still failing
    next_after_id: int | None = None  # more letters follow this id (`limit` reached); None when done


def replay(config: IngestConfig, client: LineWriter, engine, ids: list[int] | None = None, *,
           limit: int | None = None, after_id: int = 0) -> ReplayResult:
    """Re-run decode and write (to InfluxDB through `client`) for the given dead letters (all of them after
    `after_id` when `ids` is None).

    Raises `InfluxError` when InfluxDB cannot be reached: the page being replayed stays in the store.
    """
    pipeline = Pipeline(DeviceRegistry(engine, authoritative=config.registry_authoritative), None,
                        config.mqtt_topic_prefix, config.decode_limits, field_catalogue(config, engine))
    writer = DurableWriter(client, Spool(config.data_dir / "replay-spool", 1), lambda _: None, threading.Event())
    replayed, failing, reasons, seen = 0, 0, {}, 0
    wanted = sorted(set(ids)) if ids is not None else None
    while limit is None or seen < limit:
        size = PAGE if limit is None else min(PAGE, limit - seen)
        page_ids = None if wanted is None else [i for i in wanted if i > after_id][:size]
        rows = deadletters.query(engine, ids=page_ids, limit=size, after_id=after_id)
        if not rows:
            return ReplayResult(replayed, failing, reasons)
        done, refused = _replay_page(pipeline, writer, engine, rows)
        deadletters.remove(engine, done)
        replayed, failing, seen, after_id = replayed + len(done), failing + len(refused), seen + len(rows), rows[-1].id
        reasons.update(list(refused.items())[:MAX_REASONS - len(reasons)])
    more = deadletters.query(engine, ids=wanted, limit=1, after_id=after_id)
    return ReplayResult(replayed, failing, reasons, after_id if more else None)


def _replay_page(pipeline: Pipeline, writer: DurableWriter, engine, rows) -> tuple[list[int], dict[int, str]]:
    done, failing = [], {}
    for row in rows:
        batch = Batch()
        pipeline.add(batch, MessageSource(row.topic, row.payload, row.received_ms))
        if batch.dead:
            failing[row.id] = batch.dead[0].reason
            continue
        pipeline.registry.persist(batch.metas, batch.statuses)
        field_store.persist(engine, batch.fields)
        refused = writer.write_isolating(batch.lines) if batch.lines else []
        if refused:
            failing[row.id] = refused[0][1]
        else:
            done.append(row.id)
    return done, failing


__all__ = ["replay", "ReplayResult", "InfluxError"]
