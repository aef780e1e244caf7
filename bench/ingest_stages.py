"""Microseconds of Python per message in each stage of ingest's hot path (no broker, no InfluxDB).

    .venv/bin/python -m bench.ingest_stages [--n 50000] [--reps 5]

The drain benchmark's messages (`bench.traffic.message`: 8 metrics, 1,000
devices, ~210 bytes) go through the stages one at a time, each timed over
all N messages in CPU time of the thread (`time.thread_time_ns`: on a
shared machine, time waiting for a core is not counted):

- ``decode``: `decode_parts` (topic, JSON, validation, records);
- ``encode``: `line_for` on the decoded records (line protocol);
- ``pipeline``: `Pipeline.add` into a batch (decode, encode, field
  catalogue, ledger, counts): what the pipeline thread spends per message;
- ``body``: the batch's HTTP body (`Batch.body`), per message.

The registry and field catalogue run on a SQLite file in a temporary folder,
as in the service. Prints one JSON object: median µs per message per stage
(and min/max). To compare two versions of the code, run this module from
each checkout in turn (`PYTHONPATH=<checkout>`), alternating.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson


def _messages(n: int) -> list[tuple[str, bytes]]:
    from bench.traffic import message

    base_ms = int(time.time() * 1000) - n - 60_000
    return [message(i, 1000, base_ms) for i in range(n)]


def _pipeline(root: Path):
    from sqlalchemy import create_engine

    from database import Base
    from ingest.decode import DecodeLimits
    from ingest.fields import FieldCatalogue
    from ingest.ledger import Ledger
    from ingest.pipeline import Pipeline
    from ingest.registry import DeviceRegistry

    engine = create_engine(f"sqlite:///{root / 'stages.db'}")
    Base.metadata.create_all(engine)
    return Pipeline(DeviceRegistry(engine), Ledger(), "devices", DecodeLimits(), FieldCatalogue(engine))


def one_round(msgs, received_ms: int, root: Path) -> dict[str, float]:
    from ingest.batch import Batch
    from ingest.decode import DecodeLimits, decode_parts
    from ingest.pipeline import MessageSource
    from ingest.points import line_for

    n, limits, out = len(msgs), DecodeLimits(), {}
    t0 = time.thread_time_ns()
    decoded = [decode_parts(t, p, received_ms, limits=limits) for t, p in msgs]
    out["decode"] = (time.thread_time_ns() - t0) / n / 1000
    records = [r for d in decoded for r in d.records]
    t0 = time.thread_time_ns()
    for r in records:
        line_for(r)
    out["encode"] = (time.thread_time_ns() - t0) / n / 1000
    pipeline, sources = _pipeline(root), [MessageSource(t, p, received_ms) for t, p in msgs]
    batch = Batch()
    t0 = time.thread_time_ns()
    for s in sources:
        pipeline.add(batch, s)
    out["pipeline"] = (time.thread_time_ns() - t0) / n / 1000
    assert len(batch.lines) == n and not batch.dead, (len(batch.lines), batch.dead[:1])
    t0 = time.thread_time_ns()
    batch.body()
    out["body"] = (time.thread_time_ns() - t0) / n / 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest_stages")
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--reps", type=int, default=5)
    a = parser.parse_args()
    msgs = _messages(a.n)
    received_ms = int(time.time() * 1000)
    rounds = []
    for rep in range(a.reps):
        with tempfile.TemporaryDirectory(prefix="faultline-stages-") as tmp:
            rounds.append(one_round(msgs, received_ms, Path(tmp)))
        print(f"rep {rep + 1}/{a.reps}: {rounds[-1]}", file=sys.stderr)
    result = {stage: {"median_us": round(statistics.median(r[stage] for r in rounds), 2),
                      "min_us": round(min(r[stage] for r in rounds), 2),
                      "max_us": round(max(r[stage] for r in rounds), 2)} for stage in rounds[0]}
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
